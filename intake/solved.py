"""Does a requester's reply say the problem is solved? ("solved", "it works now", "you can
close the ticket", in the common languages of a European or Asian office.)

Where it sits: the acknowledge stage (`deskmail.acknowledge`) asks this about the new part of
every follow-up from a requester; a "solved" reply closes the ticket and counts as the
suggested article having helped (DESIGN.md, Threading). Closing a ticket that is not solved
is worse than leaving a solved one open (an agent closes it in a second), so the rules are
conservative (docs/decisions/0123):

- Only the new part counts: quoted lines (`>`), everything after a quote header ("On ...
  wrote:", "-----Original Message-----", "Am ... schrieb", ...) or a signature delimiter is
  ignored, and only the first `MAX_CHARS` characters are read. Our acknowledgement itself
  says "reply with the word SOLVED"; its quoted copy must never count.
- A phrase is a statement of the state ("solved", "works again", "ya funciona", "解決しました")
  or a request to close ("you can close the ticket", "Ticket kann geschlossen werden").
- A statement does not count when it is negated ("not solved", "funktioniert nicht",
  "ça marche pas", "还没解决"), conditional ("if it works", "wenn es geht", "もし"),
  hedged ("should be fixed now"), asked ("is it solved?") or followed by a "but"
  ("works now but slow"). A close request is also accepted as a question ("could you close
  it?"), never when negated ("don't close it yet").
- Any sign that the problem is still there ("still not working", "doesn't work",
  "sigue sin funcionar", "同じエラー") outside a conditional makes the verdict "not solved",
  whatever else the reply says.

Pure: text in, a frozen verdict out; no I/O, no state.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_CHARS = 1500  # a "solved" reply says so at the top; further down it is a story
MAX_LINES = 25

_FLAGS = re.IGNORECASE | re.UNICODE


class PhraseKind(StrEnum):
    """What a matched phrase is."""

    STATE = "state"  # "it is solved", "works again"
    CLOSE = "close"  # "you can close the ticket"


@dataclass(frozen=True)
class SolvedVerdict:
    """The answer: solved or not, the phrase that decided it, and why."""

    solved: bool
    phrase: str = ""  # the words of the reply that matched, as written (lower-cased)
    language: str = ""  # ISO 639-1 code of the matched phrase's language
    kind: PhraseKind | None = None
    reason: str = ""  # why it is not solved ("negated: ...", "still a problem: ...", ...)


@dataclass(frozen=True)
class _Phrase:
    language: str
    kind: PhraseKind
    pattern: re.Pattern[str]


def _p(language: str, kind: PhraseKind, *patterns: str) -> list[_Phrase]:
    return [_Phrase(language, kind, re.compile(p, _FLAGS)) for p in patterns]


S, C = PhraseKind.STATE, PhraseKind.CLOSE
_NOUN_EN = r"(?:ticket|request|case|issue|incident|call)"

# Phrases that say "solved", per language. Word boundaries keep Czech "nefunguje" from
# matching "funguje"; Japanese negative forms differ from the positive ones matched here.
_PHRASES: tuple[_Phrase, ...] = (
    *_p(
        "en",
        S,
        r"\b(?:solved|resolved)\b(?!\s+to\b)",
        r"\b(?:it|this|that|everything|all|issue|problem|error)(?:'s|\s+is|\s+was|\s+has\s+been"
        r"|\s+got|\s+seems|\s+appears)?(?:\s+(?:now|been))?\s+(?:fixed|sorted(?:\s+out)?)\b",
        r"\bfixed\s+(?:it|now|the\s+(?:issue|problem|error))\b",
        r"\b(?:works|working|work)\s+(?:now|again|fine|perfectly|great|properly|correctly"
        r"|as\s+expected|like\s+a\s+charm)\b",
        r"\b(?:it|this|that|everything|all)(?:'s|\s+is)?\s+(?:works|working)\b",
        r"\b(?:back\s+to\s+normal|up\s+and\s+running|all\s+good|good\s+to\s+go)\b",
        r"\b(?:that|this|it|your\s+(?:suggestion|advice|tip|article|fix|solution|link)"
        r"|the\s+(?:article|fix|solution|link|tip|suggestion|restart|reboot))\s+"
        r"(?:worked|did\s+the\s+trick|helped|fixed\s+it|solved\s+it)\b",
        r"\b(?:problem|issue|error)\s+(?:is\s+|has\s+)?gone\b",
        r"\bno\s+more\s+(?:errors?|problems?|issues?)\b",
        r"\b(?:i|we)\s+(?:fixed|solved|sorted|figured\s+(?:it\s+)?out|managed\s+to\s+"
        r"(?:fix|solve|sort))\b",
        r"\bgot\s+it\s+(?:working|to\s+work|fixed|sorted)\b",
        r"\b(?:doesn't|does\s+not)\s+happen\s+any\s*more\b",
        r"\bno\s+longer\s+(?:happens|occurs|appears|an\s+issue|a\s+problem)\b",
    ),
    *_p(
        "en",
        C,
        rf"\b(?:can|may|could|please|feel\s+free\s+to|go\s+ahead\s+and)\s+(?:you\s+)?close"
        rf"\s+(?:the|this|my|our)?\s*(?:{_NOUN_EN}|it)\b",
        rf"\b(?:{_NOUN_EN})\s+(?:can|may|could)\s+(?:now\s+)?be\s+closed\b",
        r"\bno\s+(?:further|more)\s+(?:help|action|assistance|support)\s+(?:is\s+)?"
        r"(?:needed|required)\b",
    ),
    *_p(
        "de",
        S,
        r"\b(?:gelöst|geloest|behoben|erledigt|repariert)\b",
        r"\b(?:funktioniert|funktionieren|geht|gehen|läuft|laufen|klappt|klappen)\s+"
        r"(?:jetzt|wieder|nun|einwandfrei|problemlos|tadellos)\b",
        r"\bhat\s+(?:geklappt|funktioniert|geholfen)\b",
        r"\b(?:es|das|alles)\s+(?:funktioniert|geht|läuft|klappt)"
        r"(?:\s+(?:jetzt|wieder|nun))?\b",
        r"\btritt\s+nicht\s+mehr\s+auf\b",
        r"\bkein(?:e|en)?\s+(?:fehler|probleme?)\s+mehr\b",
    ),
    *_p(
        "de",
        C,
        r"\b(?:ticket|anfrage|fall|vorgang|meldung)\b.{0,30}?"
        r"\b(?:schließen|schliessen|geschlossen|abschließen|abgeschlossen)\b",
        r"\b(?:schließen|schliessen)\s+(?:sie\s+)?(?:das|den|die|dieses)\s+"
        r"(?:ticket|anfrage|vorgang)\b",
    ),
    *_p(
        "fr",
        S,
        r"\b(?:résolu|resolu|résolue|réglé|regle|réglée|corrigé|corrige|réparé|repare)\b",
        r"\b(?:ça|ca|cela|tout|il|elle)\s+(?:re)?(?:marche|fonctionne|marchent|fonctionnent)"
        r"(?:\s+(?:maintenant|à\s+nouveau|a\s+nouveau|de\s+nouveau|bien|correctement"
        r"|nickel))?\b",
    ),
    *_p(
        "fr",
        C,
        r"\b(?:clôturer|cloturer|fermer|clore)\s+(?:le|ce|la|cette|mon)\s+"
        r"(?:ticket|demande|incident|dossier)\b",
        r"\b(?:ticket|demande|incident)\s+(?:peut|pourra)\s+être\s+"
        r"(?:clôturé|cloture|fermé|ferme|clos|clôturée|fermée)\b",
    ),
    *_p(
        "es",
        S,
        r"\b(?:resuelto|resuelta|solucionado|solucionada|arreglado|arreglada)\b",
        r"\b(?:ya|ahora)\s+funciona\b",
        r"\bfunciona\s+(?:ya|bien|correctamente|de\s+nuevo|otra\s+vez|perfectamente)\b",
        r"\bvuelve\s+a\s+funcionar\b",
    ),
    *_p(
        "es",
        C,
        r"\bcerrar\s+(?:el|la|este|esta|mi)\s+(?:ticket|incidencia|caso|solicitud|petición)\b",
        r"\b(?:ticket|incidencia|caso|solicitud)\s+(?:se\s+puede|puede)\s+(?:ser\s+)?"
        r"(?:cerrar|cerrado|cerrada)\b",
    ),
    *_p(
        "it",
        S,
        r"\b(?:risolto|risolta|sistemato|sistemata|aggiustato)\b",
        r"\b(?:ora|adesso)\s+funziona\b",
        r"\bfunziona\s+(?:di\s+nuovo|ora|adesso|bene|correttamente|perfettamente)\b",
        r"\btorna\s+a\s+funzionare\b",
    ),
    *_p(
        "it",
        C,
        r"\bchiudere\s+(?:il|la|questo|questa)\s+(?:ticket|richiesta|segnalazione|caso)\b",
    ),
    *_p(
        "nl",
        S,
        r"\b(?:opgelost|verholpen|gerepareerd|gefixt)\b",
        r"\bwerkt\s+(?:weer|nu|prima|goed|perfect)\b",
        r"\bdoet\s+het\s+(?:weer|nu)\b",
    ),
    *_p(
        "nl",
        C,
        r"\b(?:ticket|melding|verzoek|call)\s+(?:mag|kan)\s+(?:worden\s+)?"
        r"(?:gesloten|dicht|afgesloten)\b",
        r"\b(?:ticket|melding|verzoek)\s+(?:sluiten|afsluiten)\b",
    ),
    *_p(
        "pt",
        S,
        r"\b(?:resolvido|resolvida|solucionado|solucionada|consertado|corrigido)\b",
        r"\b(?:já|ja|agora)\s+funciona\b",
        r"\bfunciona\s+(?:bem|agora|de\s+novo|novamente|perfeitamente)\b",
        r"\bvoltou\s+a\s+funcionar\b",
    ),
    *_p(
        "pt",
        C,
        r"\bfechar\s+(?:o|a|este|esta)\s+(?:ticket|chamado|pedido|solicitação|caso)\b",
        r"\b(?:ticket|chamado|pedido)\s+pode\s+ser\s+(?:fechado|encerrado)\b",
        r"\bencerrar\s+(?:o|a|este)\s+(?:ticket|chamado|pedido)\b",
    ),
    *_p(
        "sv",
        S,
        r"\b(?:löst|löste\s+sig|fixat|fixad|åtgärdat|åtgärdad)\b",
        r"\b(?:fungerar|funkar)\s+(?:nu|igen|bra|fint)\b",
    ),
    *_p(
        "sv",
        C,
        r"\bstänga\s+(?:ärendet|ticketen|biljetten)\b",
        r"\bärendet\s+kan\s+(?:stängas|avslutas)\b",
    ),
    *_p(
        "da",
        S,
        r"\b(?:løst|fikset|ordnet)\b",
        r"\b(?:virker|fungerer|funker)\s+(?:nu|nå|igen|igjen|fint)\b",
    ),
    *_p(
        "da",
        C,
        r"\blukke\s+(?:sagen|saken|ticketen|henvendelsen)\b",
        r"\b(?:sagen|saken|henvendelsen)\s+kan\s+lukkes\b",
    ),
    *_p(
        "fi",
        S,
        r"\b(?:ratkaistu|ratkesi|korjattu|korjaantui|selvisi|hoidettu)\b",
        r"\btoimii\s+(?:nyt|taas|jälleen|hyvin|taas\s+normaalisti)\b",
    ),
    *_p(
        "fi",
        C,
        r"\bsulkea\s+(?:tiketin|tiketti|pyynnön|tapauksen)\b",
        r"\b(?:tiketin|tiketti|pyynnön|tapauksen)\s+(?:voi|voitte|voit|saa)\s+sulkea\b",
    ),
    *_p(
        "pl",
        S,
        r"\b(?:rozwiązany|rozwiązane|rozwiązana|naprawiony|naprawione|naprawiona"
        r"|załatwione)\b",
        r"\b(?:już|teraz|juz)\s+działa\b",
        r"\bdziała\s+(?:już|teraz|poprawnie|znowu|ponownie|juz)\b",
    ),
    *_p(
        "pl",
        C,
        r"\bzamknąć\s+(?:zgłoszenie|ticket|sprawę|zgloszenie)\b",
        r"\b(?:zgłoszenie|zgloszenie|ticket)\s+(?:można|mozna)\s+zamknąć\b",
    ),
    *_p(
        "cs",
        S,
        r"\b(?:vyřešeno|vyřešen|vyřešený|vyřešená|opraveno|opraven)\b",
        r"\b(?:už|teď|nyní|uz|ted)\s+(?:to\s+)?funguje\b",
        r"\bfunguje\s+(?:už|teď|znovu|správně|zase|uz)\b",
    ),
    *_p(
        "cs",
        C,
        r"\b(?:uzavřít|zavřít)\s+(?:tiket|požadavek|ticket)\b",
        r"\b(?:tiket|požadavek|ticket)\s+(?:můžete|lze|můžeš)\s+(?:uzavřít|zavřít)\b",
    ),
    *_p(
        "ja",
        S,
        r"解決(?:しました|いたしました|できました|済み|済)",
        r"(?:直り|治り|なおり)ました",
        r"修正されました",
        r"(?:動く|使える)ようになりました",
        r"(?:動き|使え)ました",
        r"復旧しました",
        r"問題なく(?:動いて|使えて|動作して)",
    ),
    *_p(
        "ja",
        C,
        r"クローズ(?:して(?:ください|下さい|いただいて)|で(?:結構|大丈夫))",
        r"(?:チケット|問い合わせ|お問い合わせ|本件)を?(?:クローズ|閉じて|終了して)",
    ),
    *_p(
        "zh",
        S,
        r"(?:已经|已經|已)(?:解决|解決|修复|修復|修好)",
        r"(?:解决|解決|修好|搞定)了",
        r"(?:可以|能)(?:用|使用)了",
        r"(?:恢复|恢復)正常",
        r"(?:现在|現在)(?:好了|正常了|可以了)",
    ),
    *_p(
        "zh",
        C,
        r"(?:可以|请|請)(?:关闭|關閉|关掉|結案|结案)",
        r"(?:工单|工單)(?:可以)?(?:关闭|關閉)",
    ),
)

# Signs that the problem is still there, in any language.
_PROBLEMS = re.compile(
    "|".join(
        [
            # en
            r"\bstill\s+(?:not|doesn't|does\s+not|isn't|is\s+not|can't|cannot|won't|broken|failing"
            r"|fails|the\s+same|having|getting|get|seeing|see|happens|happening|occurs|shows"
            r"|there|an?\s+(?:issue|problem|error))\b",
            r"\b(?:doesn't|does\s+not|don't|do\s+not|isn't|is\s+not|won't|will\s+not|can't"
            r"|cannot|didn't|did\s+not|wasn't|hasn't|haven't)\s+(?:work|help|fix|solve|connect"
            r"|print|start|open|load|working|helped|fixed|solved|resolved|changed?)\b",
            r"\bnot\s+(?:working|solved|resolved|fixed|helpful|really)\b",
            r"\bno\s+(?:luck|change|difference|improvement)\b",
            r"\bsame\s+(?:problem|issue|error|message|thing)\b",
            r"\b(?:problem|issue|error)\s+(?:persists|remains|is\s+back|came\s+back|returned"
            r"|again)\b",
            r"\b(?:broke|broken|fails|failed|crashed|stopped\s+working)\s+again\b",
            # de
            r"\b(?:funktioniert|funktionieren|geht|gehen|klappt|läuft)\s+(?:(?:immer\s+noch|noch"
            r"\s+immer|weiterhin|leider|trotzdem|wieder|jetzt|noch|es)\s+)*(?:nicht|nie)\b",
            r"\bnicht\s+(?:gelöst|behoben|erledigt)\b",
            r"\b(?:immer\s+noch|noch\s+immer|weiterhin)\s+(?:das\s+gleiche|dasselbe|derselbe"
            r"|der\s+gleiche|kaputt|defekt|fehler|nicht|ein\s+problem)\b",
            r"\bhat\s+(?:leider\s+)?nicht\s+(?:geholfen|geklappt|funktioniert)\b",
            r"\b(?:gleiche[nrs]?|selbe[nrs]?)\s+(?:problem|fehler|fehlermeldung)\b",
            r"\b(?:besteht|tritt)\s+(?:weiterhin|immer\s+noch|noch|wieder)\b",
            # fr
            r"\b(?:marche|fonctionne|marchent|fonctionnent)\s+(?:toujours\s+|plus\s+|encore\s+)?"
            r"(?:pas|plus)\b",
            r"\btoujours\s+(?:pas|le\s+même|la\s+même|en\s+panne|bloqué|bloquée)\b",
            r"\bpas\s+(?:résolu|resolu|réglé|corrigé|encore)\b",
            r"\bn'a\s+pas\s+(?:marché|fonctionné|aidé|résolu|réglé)\b",
            r"\bmême\s+(?:problème|erreur|souci|message)\b",
            # es
            r"\bno\s+(?:funciona|va|sirve|anda|ha\s+funcionado|se\s+ha\s+resuelto|está\s+resuelto"
            r"|resuelto|solucionado|arreglado|se\s+soluciona)\b",
            r"\bsigue\s+(?:sin|igual|fallando|el\s+mismo|con\s+el\s+mismo|dando|sin\s+resolver)\b",
            r"\b(?:todavía|aún|aun)\s+no\b",
            r"\bmismo\s+(?:problema|error|fallo)\b",
            # it
            r"\bnon\s+(?:funziona|va|è\s+risolto|risolto|ha\s+funzionato|ha\s+risolto|è\s+stato"
            r"\s+risolto|si\s+risolve)\b",
            r"\bancora\s+(?:non|lo\s+stesso|la\s+stessa|rotto|bloccato)\b",
            r"\bstess[oa]\s+(?:problema|errore)\b",
            r"\bcontinua\s+a\s+non\b",
            # nl
            r"\bwerkt\s+(?:(?:nog\s+steeds|nog\s+altijd|helaas|nog|het|nu)\s+)*niet\b",
            r"\b(?:nog\s+steeds|nog\s+altijd)\s+(?:niet|hetzelfde|kapot|dezelfde|een\s+probleem)\b",
            r"\bniet\s+(?:opgelost|verholpen)\b",
            r"\b(?:hetzelfde\s+probleem|dezelfde\s+(?:fout|foutmelding))\b",
            r"\bdoet\s+het\s+(?:nog\s+steeds\s+)?niet\b",
            # pt
            r"\bnão\s+(?:funciona|funcionou|resolveu|resolvido|foi\s+resolvido|está\s+resolvido"
            r"|deu\s+certo|ajudou)\b",
            r"\bainda\s+(?:não|com\s+o\s+mesmo|o\s+mesmo|a\s+mesma|está\s+com)\b",
            r"\bcontinua\s+(?:sem|com\s+o\s+mesmo|a\s+dar|dando|o\s+mesmo)\b",
            r"\bmesm[oa]\s+(?:problema|erro)\b",
            # sv, da, no
            r"\b(?:fungerar|funkar|virker|fungerer|funker)\s+(?:(?:fortfarande|tyvärr|stadig"
            r"|stadigvæk|fortsatt|fortsat|desværre|dessverre|det|nu|nå)\s+)*(?:inte|ikke|ikkje)\b",
            r"\b(?:inte|ikke|ikkje)\s+(?:löst|fixat|åtgärdat|løst|fikset|ordnet)\b",
            r"\b(?:fortfarande|stadig|fortsatt|fortsat)\s+(?:samma|samme|inte|ikke|problem|fel"
            r"|fejl|feil)\b",
            r"\bsamma\s+(?:problem|fel)\b",
            r"\bsamme\s+(?:problem|fejl|feil)\b",
            r"\bhjalp\s+(?:inte|ikke)\b",
            # fi
            r"\bei\s+(?:toimi|ratkennut|korjaantunut|auttanut|ole\s+ratkaistu|ole\s+korjattu"
            r"|ole\s+ratkennut)\b",
            r"\b(?:edelleen|vieläkään|yhä)\s+(?:ei|sama|rikki)\b",
            r"\bsama\s+(?:ongelma|virhe)\b",
            # pl
            r"\bnie\s+(?:działa|dziala|pomogło|pomaga|rozwiązało|rozwiązany|rozwiązane"
            r"|naprawione|naprawiony)\b",
            r"\b(?:nadal|wciąż|dalej|ciągle)\s+(?:nie|ten\s+sam|to\s+samo|ta\s+sama)\b",
            r"\bten\s+sam\s+(?:problem|błąd)\b",
            # cs
            r"\b(?:nefunguje|nefungovalo|nefungují|nepomohlo|neopraveno|nevyřešen\w*)\b",
            r"\bnení\s+(?:vyřešen\w*|opraven\w*)\b",
            r"\b(?:stále|pořád|furt|pořad)\s+(?:ne\w*|stejn\w*)\b",
            r"\bstejn(?:ý|á|é)\s+(?:problém|chyba)\b",
            # ja
            r"解決(?:していません|しません|しませんでした|していない|できません|できない|しない)",
            r"(?:直って|治って)(?:いません|いない)|直りません|直らない",
            r"動きません|動かない|使えません|使えない|動作しません",
            r"まだ(?:解決|直|動|使|エラー)",
            r"同じ(?:エラー|問題|症状)",
            r"(?:改善|変わり)ません",
            # zh
            r"(?:没|沒|未|还没|還沒|没有|沒有)(?:解决|解決|修好|好|恢复|恢復)",
            r"(?:不能|无法|無法|不可以)(?:用|使用|连接|連接|打印|登录|登錄)",
            r"(?:还是|還是)(?:不行|一样|一樣|不能|有问题|有問題|报错|報錯)",
            r"(?:依然|仍然|仍)(?:不|有|无法|無法|报错|報錯)",
            r"(?:同样|同樣)的(?:问题|問題|错误|錯誤)",
        ]
    ),
    _FLAGS,
)

# Negation right before a phrase (same clause), in any of the languages.
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no|nor|neither|hardly|without|n't|nicht|nie|niemals|kein\w*|ohne|pas"
    r"|jamais|aucun\w*|sans|non|nunca|sin|tampoco|mai|senza|niet|geen|nooit|zonder|não|nao"
    r"|sem|nem|inte|ej|aldrig|utan|icke|ikke|ikkje|aldri|uden|uten|ei|emme|ette|eivät|eikä"
    r"|ilman|nigdy|bez|ani|není|nebylo|nebyl\w*|nikdy)\b|n't\b",
    _FLAGS,
)
_NEGATION_BEFORE_CJK = re.compile(r"[没沒未不无無别別]")
# Negation right after a phrase (German, Dutch and Scandinavian put it after the verb;
# French colloquially drops the "ne").
_NEGATION_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:nicht|nie|niet|geen|inte|ikke|ikkje|pas|plus|jamais|not)\b",
    _FLAGS,
)
_NEGATION_AFTER_CJK = re.compile(r"^.{0,3}?(?:ない|ません|ず|吗|嗎)")
# A condition or a hope before a phrase: nothing is solved yet.
_CONDITIONAL = re.compile(
    r"\b(?:if|when|whenever|once|as\s+soon\s+as|unless|until|whether|hopefully|hope|in\s+case"
    r"|let\s+(?:me|you|us)\s+know|wenn|falls|sobald|ob|hoffentlich|hoffe|quand|lorsque"
    r"|dès\s+que|des\s+que|j'espère|espérons|au\s+cas\s+où|cuando|en\s+cuanto|ojalá|ojala"
    r"|espero\s+que|en\s+caso|quando|appena|spero|speriamo|nel\s+caso|wanneer|zodra|indien"
    r"|hopelijk|assim\s+que|tomara|när|så\s+fort|förhoppningsvis|hoppas|hvis|når|så\s+snart"
    r"|forhåbentlig|forhåpentligvis|håber|håper|jos|kunhan|toivottavasti|toivon|jeśli|jeżeli"
    r"|jesli|gdy|kiedy|czy|oby|pokud|jestli|jestliže|když|doufám|snad)\b"
    r"|もし|たら|れば|場合|かどうか|如果|要是|假如|一旦|希望|是否",
    _FLAGS,
)
# "si"/"se"/"als"/"om" mean "if" only at the start of a clause (elsewhere they are pronouns,
# "as" or "about"); the reflexive "si è risolto" / "se ha solucionado" is no condition.
_CONDITIONAL_START = re.compile(
    r"^\W*(?:si|se|als|om|kun)\b(?!\s+(?:è|e'|é|ha|han|hanno|resolveu|resolvió|solucionó"
    r"|arregló|risolve|risolto)\b)",
    _FLAGS,
)
# Hedges before a statement: "should be fixed now" is a guess, not a report.
_HEDGE = re.compile(
    r"\b(?:should|would|will|might|may|could|supposed\s+to|expected\s+to|probably|maybe"
    r"|perhaps|sollte|soll|müsste|wird|würde|könnte|vielleicht|wahrscheinlich|devrait|sera"
    r"|serait|pourrait|peut-être|debería|será|sería|podría|quizás|quizá|dovrebbe|sarà"
    r"|sarebbe|potrebbe|forse|zou|moet|moeten|zal|zullen|misschien|deveria|seria|poderia"
    r"|talvez|borde|ska|skulle|kanske|burde|skal|måske|kanskje|pitäisi|ehkä|powinien"
    r"|powinno|będzie|może|měl|mělo|bude|možná)\b"
    r"|はず|でしょう|かもしれ|应该|應該|可能",
    _FLAGS,
)
# A "but" after a statement: "works now but it is slow".
_CONTRAST = re.compile(
    r"\b(?:but|however|except|aber|jedoch|allerdings|außer|mais|sauf|pero|excepto|salvo|ma"
    r"|però|tranne|maar|behalve|mas|porém|exceto|men|utom|undtagen|unntatt|mutta|paitsi"
    r"|ale|jednak|oprócz|kromě)\b|但是|但|可是|不过|不過|しかし|けど|けれど|ただ|でも",
    _FLAGS,
)
_QUESTION_CJK = re.compile(r"(?:吗|嗎|呢|か)\s*$")

# Where the new part ends: quote headers of common clients and languages, separators.
_QUOTE_HEADER = re.compile(
    r"^\s*(?:-{2,}\s*(?:original(?:\s+message)?|ursprüngliche\s+nachricht|message\s+d'origine"
    r"|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|mensagem\s+original"
    r"|originalmeddelande|oprindelig\s+meddelelse|opprinnelig\s+melding|alkuperäinen\s+viesti"
    r"|wiadomość\s+oryginalna|původní\s+zpráva|forwarded\s+message|weitergeleitete\s+nachricht)"
    r"\s*-{2,}"
    r"|_{10,}"
    r"|(?:on|am|le|el|il|op|em|den|på|w\s+dniu|dne)\b.{0,200}"
    r"(?:wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|escreveu|skrev|kirjoitti"
    r"|napisał|napisała|napsal|napsala)\s*:?"
    r"|.{0,200}(?:wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|escreveu|skrev"
    r"|kirjoitti|napisał|napisała|napsal|napsala)\s*:"
    r"|.{0,120}(?:のメッセージ|さんは書きました|写道|寫道)\s*[:：]?"
    r"|(?:from|von|de|van|från|fra|lähettäjä|od|发件人|寄件者|差出人)\s*[:：].*)\s*$",
    _FLAGS,
)
_SIGNATURE = re.compile(r"^(?:--|__)\s*$")
_SENTENCE = re.compile(r"[^.!?;\n。！？…]+[.!?;\n。！？…]*")
_SEGMENT_SPLIT = re.compile(r"[,，、:：]|\s[-–—]\s|[–—]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "ʼ": "'"})


def new_part(text: str) -> str:
    """The reply's own words: up to the first quote header or signature, without `>` lines."""
    kept: list[str] = []
    text = text[: MAX_CHARS * 20]  # a hostile megabyte line is cut before any regex runs
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if _SIGNATURE.match(stripped):
            break
        if _QUOTE_HEADER.match(stripped):
            if any(k.strip() for k in kept):
                break
            continue  # bottom-posting: the header of a quote that comes first
        if stripped.startswith(">"):
            continue
        kept.append(line)
        if len(kept) >= MAX_LINES:
            break
    return "\n".join(kept)[:MAX_CHARS]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return text.casefold()


@dataclass(frozen=True)
class _Hit:
    phrase: _Phrase
    text: str
    problem: str = ""  # why it does not count; "" when it does


def _is_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


@dataclass(frozen=True)
class _Spot:
    """A phrase found in a sentence, with the text around it."""

    words: str  # the phrase as written
    sentence: str
    before: str  # the sentence before the phrase
    after: str  # the sentence after the phrase
    clause_before: str  # the clause before the phrase (up to a comma, dash, colon)
    clause_after: str


def _spot(sentence: str, start: int, end: int) -> _Spot:
    before, after = sentence[:start], sentence[end:]
    cuts = [m.end() for m in _SEGMENT_SPLIT.finditer(before)]
    split_after = _SEGMENT_SPLIT.search(after)
    return _Spot(
        words=sentence[start:end].strip(),
        sentence=sentence,
        before=before,
        after=after,
        clause_before=before[cuts[-1] :] if cuts else before,
        clause_after=after[: split_after.start()] if split_after else after,
    )


def _judge(phrase: _Phrase, sentence: str, start: int, end: int) -> _Hit:
    """Whether one phrase found in `sentence` at [start, end) says "solved"."""
    spot = _spot(sentence, start, end)
    problem = _negated_or_conditional(spot)
    if not problem and phrase.kind is PhraseKind.STATE:
        # A close request stands on its own ("could you close it?"); a statement of the
        # state must also be certain, not asked and not followed by a "but".
        problem = _uncertain(spot)
    return _Hit(phrase, spot.words, problem)


def _negated_or_conditional(spot: _Spot) -> str:
    cjk = _is_cjk(spot.words)
    tail_words = " ".join(spot.clause_before.split()[-5:])
    if _NEGATION_BEFORE.search(tail_words) or (
        cjk and _NEGATION_BEFORE_CJK.search(spot.clause_before[-3:])
    ):
        return f"negated: {tail_words.strip()} {spot.words}".strip()
    if _NEGATION_AFTER.search(spot.clause_after) or (
        cjk and _NEGATION_AFTER_CJK.search(spot.after)
    ):
        return f"negated: {spot.words} {spot.clause_after.strip()[:30]}"
    if _CONDITIONAL.search(spot.before) or _CONDITIONAL_START.match(spot.clause_before):
        return f"conditional: {spot.sentence.strip()[:80]}"
    return ""


def _uncertain(spot: _Spot) -> str:
    if _HEDGE.search(spot.clause_before):
        return f"uncertain: {spot.clause_before.strip()} {spot.words}"
    stripped = spot.sentence.rstrip()
    if stripped.endswith(("?", "？")) or _QUESTION_CJK.search(stripped.rstrip("?？ ")):
        return f"a question: {stripped[:80]}"
    if _CONTRAST.search(spot.after):
        return f"with a 'but': {stripped[:80]}"
    return ""


def _sentences(text: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0).strip()]


def detect_solved(text: str) -> SolvedVerdict:
    """Whether the new part of a reply says the problem is solved (see the module doc)."""
    body = _normalise(new_part(text))
    if not body.strip():
        return SolvedVerdict(False, reason="no text")
    hits: list[_Hit] = []
    for sentence in _sentences(body):
        conditional = bool(_CONDITIONAL.search(sentence) or _CONDITIONAL_START.match(sentence))
        problem = _PROBLEMS.search(sentence)
        if problem is not None and not conditional:
            return SolvedVerdict(False, reason=f"still a problem: {problem.group(0).strip()}")
        taken: list[tuple[int, int]] = []
        for phrase in _PHRASES:
            for match in phrase.pattern.finditer(sentence):
                if any(match.start() < e and s < match.end() for s, e in taken):
                    continue
                taken.append((match.start(), match.end()))
                hits.append(_judge(phrase, sentence, match.start(), match.end()))
    if not hits:
        return SolvedVerdict(False, reason="no phrase that says solved")
    refused = next((hit for hit in hits if hit.problem), None)
    if refused is not None:
        return SolvedVerdict(
            False,
            phrase=refused.text,
            language=refused.phrase.language,
            kind=refused.phrase.kind,
            reason=refused.problem,
        )
    first = hits[0]
    return SolvedVerdict(True, first.text, first.phrase.language, first.phrase.kind)
