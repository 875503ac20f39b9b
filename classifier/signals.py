"""Priority signals in the ticket's own words, in several common languages.

Runs after the model in the classify stage: what a user writes ("the whole office cannot
print", "production down", "no rush") is strong evidence of impact and urgency that a model
trained on a help desk's past tickets may never have seen. A signal only ever *raises* impact
or urgency (a floor), except an explicit "no rush", which sets urgency to low when nothing in
the text says otherwise. Matching is on case-folded text with word boundaries; only the first
`MAX_SCAN_CHARS` characters are read, so a hostile mail cannot make this slow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from classifier.labels import Impact, Urgency

MAX_SCAN_CHARS = 20_000
MAX_EVIDENCE_CHARS = 60


class SignalKind(StrEnum):
    """What a signal speaks about."""

    IMPACT = "impact"
    URGENCY = "urgency"


@dataclass(frozen=True, slots=True)
class Signal:
    """One phrase found in the text and the level it stands for."""

    kind: SignalKind
    level: str
    phrase: str

    @property
    def impact(self) -> Impact | None:
        return Impact(self.level) if self.kind is SignalKind.IMPACT else None

    @property
    def urgency(self) -> Urgency | None:
        return Urgency(self.level) if self.kind is SignalKind.URGENCY else None


@dataclass(frozen=True, slots=True)
class TextSignals:
    """Everything `find_signals` found in one text."""

    signals: tuple[Signal, ...]

    @property
    def impact_floor(self) -> Impact | None:
        """The widest impact any phrase names (None when no phrase names one)."""
        levels = [s.impact for s in self.signals if s.impact is not None]
        return max(levels) if levels else None

    @property
    def urgency_floor(self) -> Urgency | None:
        """The highest urgency named (`low` phrases do not count: they are not a floor)."""
        levels = [
            s.urgency for s in self.signals if s.urgency is not None and s.urgency > Urgency.LOW
        ]
        return max(levels) if levels else None

    @property
    def says_it_can_wait(self) -> bool:
        """True when the writer says there is no rush (and nothing says otherwise)."""
        return self.urgency_floor is None and any(s.urgency is Urgency.LOW for s in self.signals)


def _words(*phrases: str) -> str:
    return "|".join(phrases)


# Greetings that address a group ("Hi everyone", "Hallo zusammen") say nothing about impact;
# they are blanked before the impact phrases are searched.
_GREETING = re.compile(
    r"\b(?:hi|hello|hey|dear|thanks|thank you|good (?:morning|afternoon|evening)|hallo|liebe|"
    r"moin|guten (?:morgen|tag)|bonjour|salut|merci|hola|buenos d[ií]as|gracias|ciao|"
    r"buongiorno|grazie|beste|hoi|goedemorgen|ol[aá]|obrigad[oa]|bom dia)\s*,?\s+"
    r"(?:everyone|everybody|all|team|folks|guys|zusammen|alle|allerseits|[àa] tous|"
    r"tout le monde|todos|a todos|a tutti|tutti|iedereen|allemaal|pessoal)\b"
)

# "Not everyone", "only me": explicitly narrow; blanked so "everyone" inside does not count.
_NARROW = re.compile(
    r"\b(?:not (?:everyone|everybody|all users)|only (?:me|for me|my)|just (?:me|my)|"
    r"nur (?:ich|bei mir|mein)|seulement (?:moi|mon)|que moi|solo (?:yo|a m[ií]|mi|io)|"
    r"alleen (?:ik|bij mij|mijn)|s[oó] eu|apenas eu)\b"
)

_TEAM_WORDS = _words(
    "team",
    "department",
    "dept",
    "group",
    "unit",
    "abteilung",
    "gruppe",
    "équipe",
    "equipe",
    "equipo",
    "departamento",
    "squadra",
    "reparto",
    "afdeling",
    "equipa",
)
_SITE_WORDS = _words(
    "office",
    "building",
    "floor",
    "site",
    "branch",
    "location",
    "plant",
    "store",
    "campus",
    "warehouse",
    "büro",
    "buero",
    "gebäude",
    "standort",
    "etage",
    "stockwerk",
    "filiale",
    "bureau",
    "bâtiment",
    "batiment",
    "étage",
    "agence",
    "oficina",
    "edificio",
    "planta",
    "sede",
    "sucursal",
    "ufficio",
    "piano",
    "kantoor",
    "gebouw",
    "verdieping",
    "vestiging",
    "escritório",
    "escritorio",
    "prédio",
    "andar",
)

# Words for "everyone" / "nobody": organisation-wide unless a team or site word follows
# closely ("everyone in my team" is a team, "nobody on this floor" a site).
_EVERYONE = re.compile(
    r"\b(?:every(?:one|body)|all (?:users|staff|employees|colleagues|the users|our users|"
    r"computers|pcs|laptops|printers|phones|people)|nobody|no ?one|none of us|"
    r"alle (?:benutzer|mitarbeiter|mitarbeitenden|kollegen|anwender|nutzer|rechner|pcs)|"
    r"niemand|jede[rn]? (?:mitarbeiter|kollege)|tout le monde|tous les (?:utilisateurs|employés|"
    r"collaborateurs|postes|ordinateurs)|personne ne|todo el mundo|todos los (?:usuarios|"
    r"empleados|equipos|ordenadores)|nadie|tutti gli (?:utenti|uffici)|tutti i (?:dipendenti|"
    r"colleghi|computer|pc)|nessuno|iedereen|alle (?:gebruikers|medewerkers|collega's|computers)|"
    r"todos os (?:usuários|utilizadores|funcionários|computadores)|ningu[ée]m)\b"
)
_SCOPE = re.compile(rf"\b(?:(?P<team>{_TEAM_WORDS})|(?P<site>{_SITE_WORDS}))\b")
_SCOPE_WINDOW = 40

_IMPACT_PHRASES: tuple[tuple[Impact, re.Pattern[str]], ...] = (
    (
        Impact.ORGANISATION,
        re.compile(
            r"\b(?:(?:the )?(?:entire|whole) (?:company|organi[sz]ation|business|network|"
            r"enterprise|group)|company[- ]wide|organi[sz]ation[- ]wide|across the "
            r"(?:company|organi[sz]ation|business)|all (?:offices|sites|locations|branches|"
            r"regions|countries)|(?:ganze|gesamte|ganzen|gesamten) (?:firma|unternehmen|konzern)|"
            r"unternehmensweit|firmenweit|konzernweit|toute l'entreprise|toute la société|"
            r"tous les sites|toda la (?:empresa|compañía|organización)|todas las oficinas|"
            r"tutta l'azienda|tutte le sedi|(?:het )?hele bedrijf|heel het bedrijf|bedrijfsbreed|"
            r"toda a (?:empresa|organização)|todas as filiais)\b"
        ),
    ),
    (
        Impact.SITE,
        re.compile(
            rf"\b(?:(?:the |our )?(?:entire|whole) (?:{_SITE_WORDS})|(?:ganze|ganzes|gesamte|"
            rf"ganzen|gesamten) (?:{_SITE_WORDS})|tout (?:le|l') ?(?:{_SITE_WORDS})|"
            rf"toute l'(?:{_SITE_WORDS})|toda la (?:{_SITE_WORDS})|todo el (?:{_SITE_WORDS})|"
            rf"tutt[oa] (?:il |la |l')?(?:{_SITE_WORDS})|(?:het |de )?hele (?:{_SITE_WORDS})|"
            rf"heel het (?:{_SITE_WORDS})|tod[oa] (?:o |a )?(?:{_SITE_WORDS}))\b"
        ),
    ),
    (
        Impact.TEAM,
        re.compile(
            rf"\b(?:(?:the |our )?(?:entire|whole) (?:{_TEAM_WORDS})|(?:our|my) (?:{_TEAM_WORDS})|"
            r"(?:several|multiple|many|some|other|two|three|four|five|\d+) (?:users|people|"
            r"colleagues|employees|members|of us)|my colleagues|we all|all of us|"
            rf"(?:ganze|gesamte|unser|unsere|mein|meine) (?:{_TEAM_WORDS})|"
            r"mehrere (?:benutzer|kollegen|mitarbeiter|anwender|nutzer)|einige kollegen|"
            r"toute l'équipe|notre équipe|mon équipe|tout le service|plusieurs (?:utilisateurs|"
            r"collègues|personnes)|todo el (?:equipo|departamento)|(?:nuestro|mi) equipo|"
            r"varios (?:usuarios|compañeros|empleados)|tutto il (?:team|reparto)|"
            r"(?:il nostro|il mio) team|diversi (?:utenti|colleghi)|alcuni colleghi|"
            r"(?:ons|mijn) team|het hele team|de hele afdeling|meerdere (?:gebruikers|collega's)|"
            r"toda a (?:equipe|equipa)|(?:nossa|minha) (?:equipe|equipa)|vários (?:usuários|"
            r"utilizadores|colegas))\b"
        ),
    ),
)

# "No rush" and friends are searched first and blanked, so "not urgent" never reads as urgent.
_CAN_WAIT = re.compile(
    r"\b(?:not (?:urgent|critical|time[- ]critical|a priority|pressing)|no (?:rush|hurry)|"
    r"nothing urgent|not in a (?:rush|hurry)|when(?:ever)? you (?:have|get|find) (?:a moment|"
    r"time|a minute|a chance)|whenever you can|at your (?:convenience|leisure)|"
    r"low priority|(?:this|it) can wait|nicht (?:dringend|eilig)|keine eile|hat zeit|"
    r"wenn (?:sie|du) zeit (?:haben|hast)|niedrige priorität|pas urgent|rien d'urgent|"
    r"pas pressé|quand vous (?:aurez|avez) le temps|priorité basse|no es urgente|no urge|"
    r"sin prisa|cuando (?:puedas|pueda|tengas tiempo)|baja prioridad|non (?:è )?urgente|"
    r"con calma|quando hai tempo|bassa priorità|niet dringend|geen (?:haast|spoed)|"
    r"als je tijd hebt|lage prioriteit|não é urgente|sem pressa|quando (?:puder|possível)|"
    r"baixa prioridade)\b"
)

_SYSTEMS = (
    r"(?:production|prod|live system|live site|website|web site|web shop|webshop|online shop|"
    r"shop|server|servers|all systems|the system|systems|erp|sap|crm|database|network|"
    r"internet|email|e-mail|mail server|phone system|telephony|checkout|payment system)"
)

_URGENCY_PHRASES: tuple[tuple[Urgency, re.Pattern[str]], ...] = (
    (
        Urgency.CRITICAL,
        re.compile(
            rf"\b(?:{_SYSTEMS} (?:is |are |went |has gone )?(?:down|offline|unavailable|"
            r"not available|out)|(?:major|total|complete|full|global) (?:outage|failure)|"
            r"outage|business[- ]critical|mission[- ]critical|emergency|production "
            r"(?:stopped|halted|is stopped|is halted|line stopped|has stopped)|"
            r"(?:we|customers|nobody|no one) (?:cannot|can't|can not|are unable to) "
            r"(?:ship|sell|trade|invoice|take orders|pay|check out|log ?in)|"
            r"losing (?:money|revenue|customers|orders)|"
            r"produktion (?:steht|ist ausgefallen|ist gestoppt)|produktionsausfall|"
            r"produktionsstillstand|totalausfall|kompletter ausfall|server ist (?:down|"
            r"ausgefallen)|geschäftskritisch|notfall|production (?:arrêtée|est arrêtée|"
            r"à l'arrêt|en panne)|arrêt de (?:la )?production|panne (?:générale|totale)|"
            r"critique pour l'activité|urgence absolue|serveur en panne|site en panne|"
            r"producción (?:caída|parada|detenida|está caída|está parada)|caída (?:total|general)|"
            r"crítico para el negocio|emergencia|(?:servidor|sistema) caído|"
            r"produzione (?:ferma|bloccata|è ferma)|fermo produzione|blocco totale|emergenza|"
            r"server (?:fermo|è giù)|critico per il business|productie (?:ligt plat|staat stil|"
            r"is plat|ligt stil)|alles ligt plat|noodgeval|bedrijfskritisch|server ligt plat|"
            r"produção (?:parada|caiu|fora do ar)|(?:sistema|servidor|site) fora do ar|"
            r"emergência|crítico para o negócio)\b"
        ),
    ),
    (
        Urgency.HIGH,
        re.compile(
            r"\b(?:urgent(?:ly)?|asap|a\.s\.a\.p|as soon as possible|immediately|right away|"
            r"(?:cannot|can't|can not|cant|unable to|not able to) (?:work|do (?:my|our) "
            r"(?:job|work)|continue (?:working|my work))|(?:i am|i'm|we are|we're|work is) "
            r"(?:blocked|stuck)|blocking (?:me|us|our|my)|blocked from working|"
            r"(?:completely|totally) (?:stuck|blocked)|deadline (?:is )?(?:today|tomorrow|"
            r"this (?:morning|afternoon|evening))|(?:high|top|highest) priority|"
            r"dringend|eilig|sofort|umgehend|schnellstmöglich|so schnell wie möglich|"
            r"(?:kann|können|konnte) nicht (?:mehr )?arbeiten|arbeiten (?:ist )?nicht möglich|"
            r"blockiert|hohe priorität|urgente?s?|urgence|au plus (?:vite|tôt)|"
            r"d[èe]s que possible|immédiatement|(?:je|nous) ne (?:peux|pouvons) (?:pas|plus) "
            r"travailler|impossible de travailler|bloquée?|bloquant|priorité haute|urgencia|"
            r"lo (?:antes|más pronto) posible|cuanto antes|inmediatamente|no (?:puedo|podemos) "
            r"trabajar|bloquead[oa]|alta prioridad|urgenza|al più presto|(?:il )?prima possibile|"
            r"subito|non (?:riesco|posso|possiamo|riusciamo) a lavorare|non posso lavorare|"
            r"bloccat[oa]|alta priorità|spoed|zo snel mogelijk|zsm|onmiddellijk|"
            r"(?:kan|kunnen) niet (?:meer )?werken|geblokkeerd|hoge prioriteit|urgência|"
            r"o (?:mais rápido|quanto antes) possível|o quanto antes|imediatamente|"
            r"não (?:consigo|posso|conseguimos|podemos) trabalhar|alta prioridade)\b"
        ),
    ),
)


def normalise(text: str) -> str:
    """Case-fold, unify apostrophes and whitespace, cap the length scanned."""
    text = unicodedata.normalize("NFC", text[:MAX_SCAN_CHARS]).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text)


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _evidence(match: re.Match[str]) -> str:
    return match.group(0)[:MAX_EVIDENCE_CHARS]


def find_signals(text: str) -> TextSignals:
    """The impact and urgency phrases of a ticket's text (subject and body)."""
    found: list[Signal] = []
    plain = normalise(text)

    for match in _CAN_WAIT.finditer(plain):
        found.append(Signal(SignalKind.URGENCY, Urgency.LOW.value, _evidence(match)))
    wait_free = _blank(plain, _CAN_WAIT)
    for level, pattern in _URGENCY_PHRASES:
        for match in pattern.finditer(wait_free):
            found.append(Signal(SignalKind.URGENCY, level.value, _evidence(match)))
        wait_free = _blank(wait_free, pattern)

    scoped = _blank(_blank(plain, _GREETING), _NARROW)
    for match in _EVERYONE.finditer(scoped):
        window = scoped[match.end() : match.end() + _SCOPE_WINDOW]
        scope = _SCOPE.search(window)
        if scope is None:
            width = Impact.ORGANISATION
        elif scope.group("team"):
            width = Impact.TEAM
        else:
            width = Impact.SITE
        found.append(Signal(SignalKind.IMPACT, width.value, _evidence(match)))
    scoped = _blank(scoped, _EVERYONE)
    for impact, pattern in _IMPACT_PHRASES:
        for match in pattern.finditer(scoped):
            found.append(Signal(SignalKind.IMPACT, impact.value, _evidence(match)))
        scoped = _blank(scoped, pattern)
    return TextSignals(tuple(found))
