"""Recognising quoted earlier mail in a reply's text: the line patterns of reply trimming.

Part of the trimming step of intake (`intake.trimming` decides where to cut; this module only
says what a line, or a few joined lines, look like). It knows:

- attribution lines ("On Mon, 1 Jan 2024 at 10:00, Alice <a@b> wrote:", "Am ... schrieb ...:",
  "Le ... a écrit :", "... kirjoitti:", "在 ... 写道：", ...), also when a client wrapped them
  over two or three lines;
- Outlook-style header blocks ("From:/Sent:/To:/Subject:" and their translations, with or
  without a "-----Original Message-----" or "_____" line above);
- "original message" and "forwarded message" marker lines in many languages;
- `>` quoting (RFC 3676 section 4.5; also Supercite's "Name>" prefix);
- mobile clients' "Sent from my iPhone" style footers.

Everything here works on single lines or on at most a few hundred characters of joined lines,
with regular expressions that have no nested quantifiers, so a hostile mail with megabyte lines
cannot make a pattern backtrack for long (callers cap the line length, see `clean`).
"""

import re
from dataclasses import dataclass
from enum import StrEnum

# A line longer than this is prose or data, never a header; patterns look at most at this much.
MAX_PATTERN_CHARS = 400

# Zero-width characters, bidi marks and soft hyphens that clients (and trackers) sprinkle into
# headers; they would break matching but carry no meaning for it.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"
        "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    None,
)
_INVISIBLE[0xA0] = " "  # no-break space
_INVISIBLE[0x3000] = " "  # ideographic space


def clean(line: str) -> str:
    """The matchable core of a line: invisible characters removed, ends trimmed, length capped."""
    return line[: MAX_PATTERN_CHARS * 2].translate(_INVISIBLE).strip()[:MAX_PATTERN_CHARS]


# --- `>` quoting -------------------------------------------------------------------------

# RFC 3676 section 4.5: quoted lines start with ">" (nested: ">>" or "> >"). Supercite
# ("Name> text", still produced by Emacs and some list archives) is recognised too; the
# prefix is a short word directly followed by ">" and a space or the end of the line.
_SUPERCITE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,11}>(?:[ \t]|$)")


def quote_depth(line: str) -> int:
    """How deeply a line is quoted with `>` (0 = not quoted)."""
    core = line.lstrip(" \t\u00a0")[:200]
    depth = 0
    for char in core:
        if char == ">":
            depth += 1
        elif char not in " \t":
            break
    if depth == 0 and _SUPERCITE.match(core):
        return 1
    return depth


# --- attribution lines --------------------------------------------------------------------

# Verbs of attribution lines, with the language they name for the trimming signal. Matched as
# whole words (CJK forms need no word boundary).
_VERBS: dict[str, tuple[str, ...]] = {
    # "Quoting X <x@y>:" and its translations are Horde/IMP's attribution.
    "en": ("wrote", "writes", "quoting"),
    "fr": ("a écrit", "a ecrit", "écrit", "ecrit", "citation de"),
    "es": ("escribió", "escribio", "escribe"),
    "ca": ("ha escrit", "va escriure"),
    "de": ("schrieb", "hat geschrieben", "schreibt", "zitat von"),
    "it": ("ha scritto", "scrisse"),
    "nl": ("schreef", "geschreven"),
    "pt": ("escreveu", "escreve"),
    "fi": ("kirjoitti",),
    "pl": ("napisał\\(a\\)", "napisał", "napisała", "napisal", "pisze"),
    "ru": ("написал\\(а\\)", "написал", "написала", "пишет"),
    "uk": ("написав", "пише"),
    "da": ("skrev", "skriver"),
    "cs": ("napsal\\(a\\)", "napsal", "napsala"),
    "sk": ("napísal", "napísala"),
    "hu": ("írta",),
    "tr": ("yazdı",),
    "el": ("έγραψε",),
    "et": ("kirjutas",),
    "lt": ("rašė",),
    "lv": ("rakstīja",),
    "ro": ("a scris",),
    "hr": ("napisao", "napisala", "je napisal"),
    "sv": ("skrev följande",),
}
_CJK_VERBS: dict[str, tuple[str, ...]] = {
    "zh": ("写道", "寫道"),
    "ja": ("のメッセージ", "書きました"),
    "ko": ("작성",),
}
_VERB_LANG: dict[str, str] = {}
for _lang, _verbs in _VERBS.items():
    for _verb in _verbs:
        _VERB_LANG[_verb.replace("\\", "").casefold()] = _lang
for _lang, _verbs in _CJK_VERBS.items():
    for _verb in _verbs:
        _VERB_LANG[_verb] = _lang

_VERB_RE = re.compile(
    # The look-ahead lets positions that cannot start a word fail before the alternation.
    r"(?<![^\W\d_])(?=[^\W\d_])(?:"
    + "|".join(sorted((v for vs in _VERBS.values() for v in vs), key=len, reverse=True))
    + r")(?![^\W\d_])|"
    + "|".join(v for vs in _CJK_VERBS.values() for v in vs),
    re.IGNORECASE,
)

# Words that open an attribution line, for the language of the signal when no verb is there.
_LEAD_LANG: tuple[tuple[str, str], ...] = (
    ("on", "en"),
    ("at", "en"),
    ("le", "fr"),
    ("el", "es"),
    ("am", "de"),
    ("il", "it"),
    ("in data", "it"),
    ("op", "nl"),
    ("em", "pt"),
    ("w dniu", "pl"),
    ("dnia", "pl"),
    ("den", "da"),
    ("på", "sv"),
    ("dne", "cs"),
    ("在", "zh"),
)
_LEAD_RE = re.compile(
    r"(?:" + "|".join(re.escape(w) for w, _ in _LEAD_LANG) + r")(?![^\W\d_])", re.IGNORECASE
)

_EMAIL_RE = re.compile(r"[\w.+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_TIME_RE = re.compile(r"(?<!\d)\d{1,2}[:.h]\d{2}(?!\d)")
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_NUMERIC_DATE_RE = re.compile(r"(?<!\d)\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}(?!\d)")
_MONTHS = (
    # en, fr, de, es, it, nl, pt, pl, fi, ru, uk (abbreviations and full names)
    r"jan(?:uary|vier|uar|eiro)?|feb(?:ruary|ruar|braio|rero)?|févr(?:ier)?|fevereiro|"
    r"mar(?:ch|s|zo|ço|et)?|märz|mrt|apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|may|mai|mag(?:gio)?|"
    r"mayo|maio|jun(?:e|i|io|ho)?|juin|giu(?:gno)?|jul(?:y|i|io|ho)?|juil(?:let)?|lug(?:lio)?|"
    r"aug(?:ust|ustus)?|août|ago(?:sto)?|sep(?:t|tember|tembre|tiembre|tembro)?|set(?:tembre)?|"
    r"oct(?:ober|obre|ubre)?|okt(?:ober)?|ott(?:obre)?|out(?:ubro)?|nov(?:ember|embre|iembre)?|"
    r"dec(?:ember)?|déc(?:embre)?|dez(?:ember|embro)?|dic(?:iembre|embre)?|"
    r"stycz\w*|lut\w*|mar\w*|kwie\w*|maj\w*|czerw\w*|lip\w*|sierp\w*|wrze\w*|paźdz\w*|"
    r"listop\w*|grud\w*|(?:tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu)kuuta|"
    r"янв\w*|фев\w*|мар\w*|апр\w*|ма[йя]|июн\w*|июл\w*|авг\w*|сен\w*|окт\w*|ноя\w*|дек\w*|"
    r"січ\w*|лют\w*|берез\w*|квіт\w*|трав\w*|черв\w*|лип\w*|серп\w*|верес\w*|жовт\w*|"
    r"листоп\w*|груд\w*"
)
_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|"
    r"vendredi|samedi|dimanche|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|lunedì|martedì|mercoledì|"
    r"giovedì|giovedi|venerdì|sabato|domenica|lunes|martes|miércoles|jueves|viernes|sábado|"
    r"domingo|segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira"
)
# A month or short weekday counts as a date only next to a number ("26 Jun", "Jun 26,",
# "Wed, 4"); English words like "may", "set" or "out" are month names elsewhere.
_DATE_WORD_RE = re.compile(
    r"(?:\d{1,4}\.?\s?(?=[^\W\d_])(?:"
    + _MONTHS
    + r")(?![^\W\d_])|(?<![^\W\d_])(?:"
    + _MONTHS
    + r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?,?\s?\d{1,4}(?!\d))"
    + r"|(?<![^\W\d_])(?:"
    + _WEEKDAYS
    + r")(?![^\W\d_])|\d{4}年|\d{1,2}月\d{1,2}日",
    re.IGNORECASE,
)
_WEEKDAY_START_RE = re.compile(
    r"(?:" + _WEEKDAYS + r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?![^\W\d_])",
    re.IGNORECASE,
)
# Short weekday forms that open localised attributions ("ср, 30 апр. 2025 г. в 15:19, ...:",
# "tir. 18. apr. 2017 kl. 13:09 ..."); too common as words to count as a date elsewhere.
_SHORT_WEEKDAY_RE = re.compile(
    r"(?:пн|вт|ср|чт|пт|сб|вс|нд|pon|wt|śr|czw|pt|sob|niedz|man|tir|ons|tor|fre|lør|søn|mån|"
    r"tis|lör|sön|ma|ti|ke|to|pe|la|su|di|wo|do|vr|za|zo|mo|mi|fr|sa|so)[.,]? ",
    re.IGNORECASE,
)

# Attribution written date-first without a colon by Gmail's localised web client
# ("2016-03-03 17:21 GMT+01:00 Some One"); narrow on purpose, log lines look similar.
_GMAIL_DATE_FIRST = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{1,2}:\d{2} "
    r"(?:\"[^\"]{1,80}\"|[A-Z][\w'.-]{0,30}(?: [A-Z][\w'.-]{0,30}){0,4})"
    r"(?: ?<[^<>\s]{1,100}@[^<>\s]{1,100}>)?:?"
)
# Older Gmail: "2013/7/20 sam via Discourse Meta <info@discourse.org>" (no colon).
_DATE_THEN_ADDRESS = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
    r"(?: \d{1,2}:\d{2})? [^<>]{1,80}<[^<>\s]{1,100}@[^<>\s]{1,100}>:?"
)

_DASH_RUN = re.compile(r"^[-–—_*=~]{1,12}\s*|\s*[-–—_*=~]{2,12}$")
# Prose, not an attribution: "I wrote to the vendor at 10:30:".
_PRONOUN_START = re.compile(
    r"(?:i|we|you|he|she|they|it|this|that|yesterday|today|so|and|but|also|then|ich|wir|"
    r"je|nous|yo|io|ik|jag|jeg)(?![^\W\d_])",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"(?:[!?]|\.\.\.?|(?<![^\W\d_])(?P<word>[^\W\d_]{2,})\.)$")
# Abbreviations that end wrapped attribution lines with a dot ("schrieb am Fr., 28. Apr.").
_ABBREVIATIONS = frozenset(
    (
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "okt", "nov"),
        *("dec", "dez", "janv", "févr", "avr", "juil", "déc", "ene", "abr", "ago", "dic"),
        *("mon", "tue", "wed", "thu", "fri", "sat", "sun", "mo", "di", "mi", "do", "fr", "sa"),
        *("so", "lun", "mer", "jeu", "ven", "sam", "dim", "nachm", "vorm", "uhr", "am", "pm"),
        *("kl", "klo", "hr", "mr", "mrs", "ms", "dr", "prof", "st", "str"),
    )
)


def _ends_sentence(line: str) -> bool:
    """Does the line end a sentence (not an abbreviation such as "Apr." or "nachm.")?"""
    match = _SENTENCE_END_RE.search(line)
    if match is None:
        return False
    word = match.group("word")
    return word is None or word.casefold() not in _ABBREVIATIONS


# Lines that open or are a plain attribution ("... wrote:") must not themselves be long prose.
_MAX_ATTRIBUTION_CHARS = 350
_MAX_WEAK_ATTRIBUTION_CHARS = 100
_MAX_WRAPPED_FIRST_LINE = 100


@dataclass(frozen=True)
class Attribution:
    """An attribution line (possibly wrapped): lines `start` to `end` (exclusive)."""

    start: int
    end: int
    language: str
    # Weak = only the verb matched ("Bob wrote:"); trusted only directly above `>` quotes.
    weak: bool


def _language(text: str) -> str:
    verb = _VERB_RE.search(text)
    if verb:
        return _VERB_LANG.get(verb.group(0).casefold(), "und")
    lead = _LEAD_RE.match(text)
    if lead:
        word = lead.group(0).casefold()
        for lead_word, lang in _LEAD_LANG:
            if lead_word == word:
                return lang
    return "und"


def _has_date(text: str) -> bool:
    return bool(
        _TIME_RE.search(text)
        or _YEAR_RE.search(text)
        or _NUMERIC_DATE_RE.search(text)
        or _DATE_WORD_RE.search(text)
    )


def _opens_like_attribution(text: str) -> bool:
    first = text[:1]
    return (
        first.isdigit()
        or bool(_LEAD_RE.match(text))
        or bool(_DATE_WORD_RE.match(text))
        or bool(_WEEKDAY_START_RE.match(text))
        or bool(_SHORT_WEEKDAY_RE.match(text))
    )


def classify_attribution(candidate: str) -> tuple[bool, bool] | None:
    """Is `candidate` (one cleaned line, or wrapped lines joined by spaces) an attribution?

    Returns (is_attribution, weak) or None. Strong attributions carry an attribution verb and
    an e-mail address or a date; without a verb, an address, a full time stamp and an opening
    like a date or a lead word ("On", "Le", "Am", ...). Weak ones only have the verb.
    """
    text = candidate.strip()
    if not text or len(text) > _MAX_ATTRIBUTION_CHARS:
        return None
    if _GMAIL_DATE_FIRST.fullmatch(text) or _DATE_THEN_ADDRESS.fullmatch(text):
        return True, False
    dashed = text.startswith(("-", "–", "—")) and text.endswith(("-", "–", "—"))
    text = _DASH_RUN.sub("", text).strip()
    if text.endswith((":", "：")) or dashed:
        return _weigh_evidence(text)
    return None


def _weigh_evidence(text: str) -> tuple[bool, bool] | None:
    verb = bool(_VERB_RE.search(text))
    email = "@" in text and bool(_EMAIL_RE.search(text))
    strong = False
    if verb or email:
        date = _has_date(text)
        # Without a verb ("11:00 AM, November 17, 2021, "John" <john@example.com>:") only a
        # full time stamp, an address and a date-like opening make an attribution.
        strong = (verb and (email or date)) or (
            email and date and bool(_TIME_RE.search(text)) and _opens_like_attribution(text)
        )
    if strong:
        return True, False
    weak = verb and len(text) <= _MAX_WEAK_ATTRIBUTION_CHARS and not _ends_sentence(text[:-1])
    return (True, True) if weak else None


def match_attribution(cleaned: list[str], index: int, max_lines: int = 3) -> Attribution | None:
    """An attribution starting at `cleaned[index]`, joining up to `max_lines` wrapped lines.

    `cleaned` holds lines already passed through `clean`. Wrapped forms end on a later line
    ("wrote:" alone, or ">:" closing a wrapped address). A wrapped form never swallows the end
    of a paragraph above it: no joined line but the last may end a sentence, and the first
    line of a wrapped form is no longer than a mail client's wrapping width; when a later
    line of it opens like an attribution itself ("On ...", a date), it starts there.
    """
    found = _attribution_at(cleaned, index, max_lines)
    if found is None or found.end - index < 2:
        return found
    for later in range(index + 1, found.end):
        if _opens_like_attribution(cleaned[later]):
            again = _attribution_at(cleaned, later, max_lines)
            if again is not None and again.end == found.end:
                return None
    return found


def _attribution_at(cleaned: list[str], index: int, max_lines: int) -> Attribution | None:
    first = cleaned[index] if index < len(cleaned) else ""
    if not first or quote_depth(first) or _PRONOUN_START.match(first):
        return None
    parts: list[str] = []
    for position in range(index, min(index + max_lines, len(cleaned))):
        line = cleaned[position]
        if not line or (parts and not _continues(parts, line, first)):
            return None
        parts.append(line)
        joined = " ".join(parts)
        if len(joined) > _MAX_ATTRIBUTION_CHARS:
            return None
        ends_like_one = joined.endswith((":", "：", "-", "—", "–"))
        if not ends_like_one and not (len(parts) == 1 and first[:1].isdigit()):
            continue
        verdict = classify_attribution(joined)
        if verdict is not None:
            return Attribution(index, position + 1, _language(joined), verdict[1])
    return None


def _continues(parts: list[str], line: str, first: str) -> bool:
    """May `line` continue the wrapped attribution made of `parts`?"""
    if _ends_sentence(parts[-1]) or len(first) > _MAX_WRAPPED_FIRST_LINE:
        return False
    joined = " ".join(parts)
    # A continuation may start with ">" only where it closes a wrapped "<address".
    return not quote_depth(line) or joined.count("<") > joined.count(">")


# --- Outlook-style header blocks ------------------------------------------------------------


class HeaderField(StrEnum):
    """The fields of a quoted header block, whatever the client's language."""

    FROM = "from"
    SENT = "sent"
    TO = "to"
    CC = "cc"
    SUBJECT = "subject"
    REPLY_TO = "reply-to"


# Field names as Outlook, Apple Mail, Gmail, Thunderbird and webmailers print them, with the
# language each one names (ambiguous ones get the most common language).
_HEADER_KEYS: dict[str, tuple[HeaderField, str]] = {}


def _keys(field: HeaderField, lang: str, *names: str) -> None:
    for name in names:
        _HEADER_KEYS.setdefault(name.casefold(), (field, lang))


_keys(HeaderField.FROM, "en", "from")
_keys(HeaderField.FROM, "fr", "de")
_keys(HeaderField.FROM, "es", "remitente")
_keys(HeaderField.FROM, "de", "von", "absender")
_keys(HeaderField.FROM, "nl", "van", "afzender")
_keys(HeaderField.FROM, "it", "da", "mittente")
_keys(HeaderField.FROM, "da", "fra")
_keys(HeaderField.FROM, "sv", "från")
_keys(HeaderField.FROM, "is", "frá")
_keys(HeaderField.FROM, "pl", "od", "nadawca")
_keys(HeaderField.FROM, "cs", "odesílatel")
_keys(HeaderField.FROM, "ru", "от", "отправитель")
_keys(HeaderField.FROM, "uk", "від")
_keys(HeaderField.FROM, "fi", "lähettäjä")
_keys(HeaderField.FROM, "hu", "feladó")
_keys(HeaderField.FROM, "tr", "kimden", "gönderen")
_keys(HeaderField.FROM, "ro", "de la")
_keys(HeaderField.FROM, "el", "από")
_keys(HeaderField.FROM, "zh", "发件人", "寄件者", "寄件人")
_keys(HeaderField.FROM, "ja", "差出人", "送信者")
_keys(HeaderField.FROM, "ko", "보낸 사람", "보낸사람")
_keys(HeaderField.SENT, "en", "sent", "date")
_keys(HeaderField.SENT, "de", "gesendet", "datum")
_keys(HeaderField.SENT, "fr", "envoyé", "envoyé le", "envoye", "date de")
_keys(HeaderField.SENT, "es", "enviado", "enviado el", "fecha")
_keys(HeaderField.SENT, "pt", "enviada", "data de envio")
_keys(HeaderField.SENT, "it", "inviato", "data", "inviato il")
_keys(HeaderField.SENT, "nl", "verzonden", "verstuurd", "gezonden")
_keys(HeaderField.SENT, "da", "sendt", "dato")
_keys(HeaderField.SENT, "sv", "skickat", "skickades")
_keys(HeaderField.SENT, "fi", "lähetetty", "päivämäärä")
_keys(HeaderField.SENT, "pl", "wysłano", "wysłany", "data wysłania")
_keys(HeaderField.SENT, "cs", "odesláno")
_keys(HeaderField.SENT, "ru", "отправлено", "дата")
_keys(HeaderField.SENT, "uk", "надіслано")
_keys(HeaderField.SENT, "hu", "elküldve", "dátum", "küldve")
_keys(HeaderField.SENT, "tr", "gönderildi", "tarih")
_keys(HeaderField.SENT, "zh", "发送时间", "日期", "寄件日期", "傳送時間")
_keys(HeaderField.SENT, "ja", "送信日時", "日時")
_keys(HeaderField.SENT, "ko", "보낸 날짜", "날짜")
_keys(HeaderField.TO, "en", "to")
_keys(HeaderField.TO, "fr", "à", "a", "pour")
_keys(HeaderField.TO, "de", "an")
_keys(HeaderField.TO, "nl", "aan")
_keys(HeaderField.TO, "es", "para", "destinatario")
_keys(HeaderField.TO, "da", "til")
_keys(HeaderField.TO, "sv", "till")
_keys(HeaderField.TO, "pl", "do")
_keys(HeaderField.TO, "cs", "komu")
_keys(HeaderField.TO, "ru", "кому")
_keys(HeaderField.TO, "fi", "vastaanottaja")
_keys(HeaderField.TO, "hu", "címzett")
_keys(HeaderField.TO, "tr", "kime")
_keys(HeaderField.TO, "el", "προς")
_keys(HeaderField.TO, "zh", "收件人", "收件者")
_keys(HeaderField.TO, "ja", "宛先")
_keys(HeaderField.TO, "ko", "받는 사람", "받는사람")
_keys(HeaderField.CC, "en", "cc", "bcc")
_keys(HeaderField.CC, "de", "kopie", "blindkopie")
_keys(HeaderField.CC, "fr", "copie", "copie à", "cci")
_keys(HeaderField.CC, "es", "copia", "cc:")
_keys(HeaderField.CC, "pl", "kopia", "dw")
_keys(HeaderField.CC, "ru", "копия")
_keys(HeaderField.CC, "fi", "kopio")
_keys(HeaderField.CC, "zh", "抄送", "副本")
_keys(HeaderField.SUBJECT, "en", "subject")
_keys(HeaderField.SUBJECT, "fr", "objet", "sujet")
_keys(HeaderField.SUBJECT, "de", "betreff")
_keys(HeaderField.SUBJECT, "nl", "onderwerp")
_keys(HeaderField.SUBJECT, "it", "oggetto")
_keys(HeaderField.SUBJECT, "es", "asunto")
_keys(HeaderField.SUBJECT, "pt", "assunto")
_keys(HeaderField.SUBJECT, "da", "emne")
_keys(HeaderField.SUBJECT, "sv", "ämne")
_keys(HeaderField.SUBJECT, "pl", "temat")
_keys(HeaderField.SUBJECT, "cs", "předmět")
_keys(HeaderField.SUBJECT, "ru", "тема")
_keys(HeaderField.SUBJECT, "fi", "aihe")
_keys(HeaderField.SUBJECT, "hu", "tárgy")
_keys(HeaderField.SUBJECT, "tr", "konu")
_keys(HeaderField.SUBJECT, "el", "θέμα")
_keys(HeaderField.SUBJECT, "zh", "主题", "主旨")
_keys(HeaderField.SUBJECT, "ja", "件名")
_keys(HeaderField.SUBJECT, "ko", "제목")
_keys(HeaderField.REPLY_TO, "en", "reply-to")
_keys(HeaderField.REPLY_TO, "de", "antwort an")
_keys(HeaderField.REPLY_TO, "fr", "répondre à")
_keys(HeaderField.REPLY_TO, "it", "risposta", "rispondi a")
_keys(HeaderField.REPLY_TO, "es", "responder a")

# "Key: value", "*Key:* value" (Markdown-ish bold from HTML conversion), "Key : value" (French
# spacing), full-width colon; the key is short and starts with a letter.
_HEADER_LINE = re.compile(
    r"\*{0,2}(?P<key>[^\W\d_][^:：*\n]{0,24}?)\*{0,2}[ \t]*[:：][ \t]*\*{0,2}[ \t]*(?P<value>.*)"
)
_FORWARD_SUBJECT = re.compile(
    r"(?:fwd?|fw|wg|tr|rv|enc|i|vs|vb|pd|doorst|továbbítás|转发|轉寄|転送)\s*:", re.IGNORECASE
)
_ADDRESS_ONLY = re.compile(
    r"(?:\"?[^<>\"]{0,80}\"?\s*)?<[^<>\s]{1,100}@[^<>\s]{1,100}>"
    r"|[^\s<>@]{1,64}@[^\s<>@]{1,100}|.{0,80}\[mailto:[^\]]{1,100}\]"
)
_SEPARATOR_LINE = re.compile(r"[-_=~*–—]{5,}")


def header_field(cleaned_line: str) -> tuple[HeaderField, str, str] | None:
    """(field, language, value) if the line is one field of a quoted header block."""
    match = _HEADER_LINE.fullmatch(cleaned_line)
    if not match:
        return None
    key = " ".join(match.group("key").split()).casefold()
    found = _HEADER_KEYS.get(key)
    if found is None:
        return None
    return found[0], found[1], match.group("value").strip()


def is_generic_header_line(cleaned_line: str) -> bool:
    """A "Key : value" line whatever the key ("Message du : 12/12/2016 13:20")."""
    match = _HEADER_LINE.fullmatch(cleaned_line)
    return bool(match and match.group("value") and len(match.group("key")) <= 20)


@dataclass(frozen=True)
class HeaderBlock:
    """A quoted header block: lines `start` (incl. any separator above) to `end` (exclusive)."""

    start: int
    end: int
    language: str
    is_forward: bool


def _scan_block(cleaned: list[str], index: int) -> tuple[int, dict[HeaderField, str], str]:
    """Fields of the header block opening at `index`: (end, field -> value, language)."""
    fields: dict[HeaderField, str] = {}
    language = ""
    position = index
    continuation = 0
    while position < len(cleaned) and position < index + 12:
        line = cleaned[position]
        if not line:
            break
        found = header_field(line)
        if found is not None and (found[0] not in fields or found[0] is HeaderField.CC):
            fields[found[0]] = found[2]
            if found[0] is not HeaderField.FROM or not language:
                language = found[1]
            continuation = 0
        else:
            # A value wrapped onto the next line ("Subject: a long\nsubject"), at most two.
            continuation += 1
            if continuation > 2 or not fields:
                break
        position += 1
    # Wrapped lines at the end belong to the block only if they continue an address list
    # ("To: Jane <jane@example.com>, Jim\n<jim@example.com>"); otherwise they are the body.
    end = position - continuation
    while end < position and ("@" in cleaned[end] or cleaned[end].startswith("<")):
        end += 1
    return end, fields, language or "und"


def match_header_block(cleaned: list[str], index: int) -> HeaderBlock | None:
    """A quoted header block opening at `cleaned[index]`, or None.

    Accepted: a "From:" field plus at least one other field, or three fields of any kind, or
    a lone "From:" whose value is just an address (e.g. "De: foo <foo@example.com>").
    """
    found = header_field(cleaned[index])
    if found is None:
        return None
    end, fields, language = _scan_block(cleaned, index)
    has_from = HeaderField.FROM in fields
    lone_from = (
        has_from
        and len(fields) == 1
        and bool(_ADDRESS_ONLY.fullmatch(fields[HeaderField.FROM]))
        and found[0] is HeaderField.FROM
    )
    if not ((has_from and len(fields) >= 2) or len(fields) >= 3 or lone_from):
        return None
    start = _extend_upwards(cleaned, index)
    subject = fields.get(HeaderField.SUBJECT, "")
    return HeaderBlock(start, end, language, bool(_FORWARD_SUBJECT.match(subject)))


def _extend_upwards(cleaned: list[str], index: int) -> int:
    """Include "Message du : ..." lines and a separator line ("_____", "-----Original...")."""
    start = index
    while start > 0 and is_generic_header_line(cleaned[start - 1]):
        start -= 1
    probe = start - 1
    while probe >= 0 and not cleaned[probe] and start - probe <= 2:
        probe -= 1
    if probe >= 0 and (
        _SEPARATOR_LINE.fullmatch(cleaned[probe]) or marker_kind(cleaned[probe]) is not None
    ):
        return probe
    return start


# --- marker lines -----------------------------------------------------------------------------


class Marker(StrEnum):
    """What a marker line announces."""

    ORIGINAL = "original message"
    FORWARD = "forwarded message"


_ORIGINAL_PHRASES: dict[str, str] = {
    "original message": "en",
    "original email message": "en",
    "original e-mail message": "en",
    "original e-mail": "en",
    "original email": "en",
    "reply message": "en",
    "ursprüngliche nachricht": "de",
    "ursprungliche nachricht": "de",
    "originalnachricht": "de",
    "ursprüngliche e-mail": "de",
    "message d'origine": "fr",
    "message d’origine": "fr",
    "message original": "fr",
    "e-mail original": "fr",
    "mensaje original": "es",
    "messaggio originale": "it",
    "oorspronkelijk bericht": "nl",
    "origineel bericht": "nl",
    "oprindelig meddelelse": "da",
    "oprindelig besked": "da",
    "opprinnelig melding": "no",
    "ursprungligt meddelande": "sv",
    "originalmeddelande": "sv",
    "alkuperäinen viesti": "fi",
    "wiadomość oryginalna": "pl",
    "oryginalna wiadomość": "pl",
    "исходное сообщение": "ru",
    "оригинальное сообщение": "ru",
    "вихідне повідомлення": "uk",
    "původní zpráva": "cs",
    "pôvodná správa": "sk",
    "eredeti üzenet": "hu",
    "orijinal ileti": "tr",
    "mensagem original": "pt",
    "原始邮件": "zh",
    "原始郵件": "zh",
    "元のメッセージ": "ja",
}
_FORWARD_PHRASES: dict[str, str] = {
    "forwarded message": "en",
    "forwarded e-mail": "en",
    "forwarded email": "en",
    "begin forwarded message": "en",
    "forwarded message follows": "en",
    "weitergeleitete nachricht": "de",
    "anfang der weitergeleiteten nachricht": "de",
    "weitergeleitete e-mail": "de",
    "message transféré": "fr",
    "début du message réexpédié": "fr",
    "début du message transféré": "fr",
    "message réexpédié": "fr",
    "mensaje reenviado": "es",
    "mensaje remitido": "es",
    "inicio del mensaje reenviado": "es",
    "messaggio inoltrato": "it",
    "inizio messaggio inoltrato": "it",
    "doorgestuurd bericht": "nl",
    "begin doorgestuurd bericht": "nl",
    "videresendt meddelelse": "da",
    "videresendt melding": "no",
    "vidarebefordrat meddelande": "sv",
    "välitetty viesti": "fi",
    "wiadomość przekazana": "pl",
    "przekazana wiadomość": "pl",
    "пересылаемое сообщение": "ru",
    "пересланное сообщение": "ru",
    "переслане повідомлення": "uk",
    "mensagem encaminhada": "pt",
    "início da mensagem reencaminhada": "pt",
    "přeposlaná zpráva": "cs",
    "továbbított üzenet": "hu",
    "转发的邮件": "zh",
    "轉寄的郵件": "zh",
    "転送メッセージ": "ja",
}
_MARKER_TRIM = re.compile(r"^[-_=*~<>\s–—]+|[-_=*~<>\s:：–—]+$")


def marker_kind(cleaned_line: str) -> tuple[Marker, str] | None:
    """(kind, language) if the line is an "original message" or "forwarded message" marker.

    The phrase must fill the line apart from dashes, underscores, stars or a colon around it
    ("-----Original Message-----", "---------- Forwarded message ---------",
    "Begin forwarded message:").
    """
    if len(cleaned_line) > 80:
        return None
    phrase = _MARKER_TRIM.sub("", cleaned_line).casefold()
    phrase = " ".join(phrase.split())
    if phrase in _ORIGINAL_PHRASES:
        return Marker.ORIGINAL, _ORIGINAL_PHRASES[phrase]
    if phrase in _FORWARD_PHRASES:
        return Marker.FORWARD, _FORWARD_PHRASES[phrase]
    return None


# --- mobile clients' footers ---------------------------------------------------------------

# The thing a footer was "sent from": a device, an app, or anything after "my".
_DEVICE_WORDS = re.compile(
    r"(?<![^\W\d_])(?:iphone|ipad|ipod|android|blackberry|mobile|phone|cell|cellphone|"
    r"smartphone|tablet|galaxy|samsung|outlook|mail|mailbox|yahoo|gmail|windows|airmail|"
    r"sparrow|typeapp|huawei|xiaomi|nokia|spark|protonmail|tutanota|aol|surface|device|"
    r"pixel|htc|motorola|lg|sony|xperia|oneplus|bluemail|newton|edison|k-9|fairemail|"
    r"blue mail|handy|mobilgerät|mobiltelefon|telefon|portable|móvil|movil|cellulare|"
    r"telefono|telefone|celular|mobiel|mobil|puhelin|телефон|смартфон)(?![^\W\d_])",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"[-–—(<\s]*(?:sent|posted|envoyé|enviado|inviato|gesendet|verzonden|sendt|skickat|"
    r"lähetetty|wysłane|отправлено|надіслано|odesláno)\s+"
    r"(?P<prep>from|with|via|using|on|by|depuis|de|desde|do|da|dal|von|mit|vanaf|met|fra|"
    r"från|med|z|с|из|з|ze|from the)\s+(?P<rest>.+)",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(
    r"(?:my|mon|ma|mi|meu|minha|il mio|mio|meinem|mijn|min|mitt|mojego|moim|моего|мого|"
    r"mého|a|an|the)\s+",
    re.IGNORECASE,
)
_TRAILING_LINK = re.compile(r"\s*(?:<[^<>]{1,300}>|\([^()]{1,300}\)|https?://\S{1,300})\s*$")
_MARKDOWN_LINK = re.compile(r"\[([^\]]{1,80})\]\([^()]{1,300}\)")
_EXCUSE = re.compile(
    r"(?:please|pls|excuse|pardon|sorry|typos?|brevity|autocorrect|bitte|désolé|veuillez|"
    r"disculpe|scusate|excusez)",
    re.IGNORECASE,
)
_OTHER_FOOTERS = re.compile(
    r"(?:get (?:outlook|the outlook app|gmail|yahoo mail) for \S.{0,60}"
    r"|von meinem \S.{0,60} gesendet\.?"
    r"|diese nachricht wurde von meinem \S.{0,80} gesendet\.?"
    r"|(?:envoyé|envoye) (?:depuis|de) (?:mon|ma) \S.{0,40}"
    r"|sendt fra min \S.{0,40}|skickat från min \S.{0,40}|verzonden (?:met|vanaf) \S.{0,40}"
    r"|enviado (?:desde|do) (?:mi|meu) \S.{0,40}|inviato da(?:l mio| il mio)? \S.{0,40}"
    r"|wysłane z (?:mojego|mojej)? ?\S.{0,40}|отправлено с \S.{0,40}|надіслано з \S.{0,40}"
    r"|lähetetty \S{1,30}(?:sta|stä|lla|llä)\b.{0,30}"
    r"|从我的\s?\S{1,20}\s?发送|從我的\s?\S{1,20}\s?傳送|\S{1,20}から送信"
    r"|\(?sent from (?:a|an) (?:phone|mobile(?: device)?|tablet)\)?"
    r"|<<\s?sent by \S{1,30}\s?>>|\(sent from \S.{0,40}\)|via mobile|sent via mobile)",
    re.IGNORECASE,
)
_MAX_FOOTER_HEAD_WORDS = 6
_CLAUSE_BREAK = re.compile(r"[,;]|\.\s")


def is_mobile_footer(cleaned_line: str) -> bool:
    """A client's "Sent from my iPhone" footer (not prose that starts the same way).

    "Sent from my desk, is much easier then my mobile phone." is prose: after the device comes
    only a link, nothing, or an apology for typos.
    """
    if not cleaned_line or len(cleaned_line) > 160:
        return False
    line = _MARKDOWN_LINK.sub(r"\1", cleaned_line)
    if _OTHER_FOOTERS.fullmatch(_TRAILING_LINK.sub("", line).strip(" .")):
        return True
    match = _SENT_FROM.fullmatch(line)
    if not match:
        return False
    rest = _TRAILING_LINK.sub("", match.group("rest")).strip()
    parts = _CLAUSE_BREAK.split(rest, maxsplit=1)
    head = _TRAILING_LINK.sub("", parts[0]).strip(" .")
    tail = parts[1].strip(" .") if len(parts) > 1 else ""
    if tail and not _EXCUSE.match(tail):
        return False
    possessive = _POSSESSIVE.match(head)
    if possessive:
        head = head[possessive.end() :]
    words = head.split()
    if not words or len(words) > _MAX_FOOTER_HEAD_WORDS:
        return False
    personal = possessive is not None and possessive.group(0).strip().casefold() not in {
        "a",
        "an",
        "the",
    }
    return personal or bool(_DEVICE_WORDS.search(head))
