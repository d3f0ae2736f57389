"""Swedish remiss lexicon: how respondents say that they support, oppose, hesitate or abstain.

Written for remissvar in general, after the conventions civil servants use in a
remissammanställning (tillstyrker / avstyrker / har synpunkter / lämnar utan erinran), not for
the sentences of one corpus. Patterns match lower-cased text. Strength 2 is an explicit position
("tillstyrker", "instämmer inte"); 1 is an evaluation that leans one way ("är positivt",
"ser risker").
"""
from __future__ import annotations

import re

# Sentence adverbials that stand inside a verdict without changing it ("ställer sig mot den bakgrunden
# bakom", "tillstyrker därför i huvudsak"): blanked before the verdicts are read, so that no pattern
# needs a gap for each of them.
INSERTED = re.compile(r"\b(?:mot\s+(?:den|denna)\s+bakgrund(?:en)?|mot\s+bakgrund\s+av\s+(?:detta|det\s+ovan\s+sagda|ovanstående)|"
                      r"sammantaget|således|alltså|därför(?!\s+att\b)|därmed|för\s+(?:sin|vår|dess|min)\s+del|"
                      r"i\s+(?:huvudsak|princip|grunden)|principiellt|i\s+och\s+för\s+sig|sammanfattningsvis|"
                      r"också|även(?!\s+om\b))\b", re.I)

# A view verb whose subject is not the inquiry ("Utredningen bedömer att …" describes it).
_RESPONDENT_VIEW = r"(?<!utredningen\s)(?<!utredaren\s)(?<!regeringen\s)(?<!betänkandet\s)(?:anser|menar|tycker|bedömer)"
# ... that the measure (up to ten words, no second "att", no negator, no "om"-condition) should (not) be …
_VIEW_THAT_MEASURE = _RESPONDENT_VIEW + r"\s+(?:\w+\s+){0,2}?att\s+(?:(?!inte\b|ej\b|att\b|om\b)[\w-]+\s+){1,10}?"

# Fixed phrases, matched first and masked, so their inner words are not read again:
# double negations and set expressions whose negator is part of the meaning.
PHRASES = [
    # the aim behind a proposal is not the proposal ("positiv till intentionen bakom förslaget, men avstyrker det"):
    # masked, no position
    (r"(?:positiv\w*\s+till|välkomna\w*|delar|stöd(?:er|jer)|instämmer\s+i|sympati\s+för|förståelse\s+för)\s+(?:\w+\s+){0,2}?(?:syfte\w*|"
     r"intention\w*|ambition\w*|målsättning\w*|avsikt\w*)(?:\s+(?:med|bakom)\b)?", "premise", 0),
    # nor is the picture of today's problems it starts from ("delar uppfattningen att väntetiderna i dag är för långa")
    (r"(?:delar|instämmer\s+i|håller\s+med\s+om)\s+(?:\w+\s+){0,3}?(?:problembeskrivning\w*|nulägesbeskrivning\w*|"
     r"nulägesanalys\w*|verklighetsbeskrivning\w*|bild\w*\s+av\s+(?:\w+\s+)?(?:problem|nuläge|situation)\w*)", "premise", 0),
    (r"(?:delar|instämmer\s+i|håller\s+med\s+om)\s+(?:\w+\s+){0,3}?(?:bedömning\w*|uppfattning\w*|analys\w*|bild\w*|"
     r"beskrivning\w*)?\s*(?:av\s+)?att\s+[^,.;:]*?\b(?:i\s+dag|idag|i\s+nuläget|för\s+närvarande|hittills)\b", "premise", 0),
    (r"(?:ser|finner|har)\s+(?:inga|inte\s+några|inte)\s+(?:\w+\s+)?(?:skäl|anledning\w*)\s+(?:att|till\s+att)\s+"
     r"(?:motsätta|invända|ifrågasätta|avstyrka)\w*(?:\s+sig)?", "support", 2),
    # the same assessment as the inquiry's, or another one ("gör samma bedömning som utredningen", "har ingen annan
    # uppfattning än utredningen"; "gör en annan bedömning än utredningen")
    (r"(?:gör(?:\s+\w+)?|gjort)\s+samma\s+bedömning|(?:har|gör)\s+(?:\w+\s+)?(?:ingen|inte\s+någon)\s+annan\s+(?:uppfattning|bedömning)",
     "support", 2),
    (r"(?:gör|gjort|har)\s+(?:\w+\s+)?en\s+(?:helt\s+)?annan\s+(?:bedömning|uppfattning)", "oppose", 2),
    # reluctance to endorse it: "har svårt att ställa sig bakom förslaget"
    (r"(?:har\s+)?svårt\s+att\s+(?:\w+\s+)?(?:ställa\s+(?:sig|oss)\s+bakom|stödja|tillstyrka|godta|acceptera)", "oppose", 2),
    (r"(?:det\s+)?saknas\s+(?:\w+\s+){0,2}?(?:skäl|motiv|anledning)\s+(?:för|att|till)\b", "oppose", 1),
    # a legal objection: "är inte förenligt med regeringsformen", "svårförenligt med grundlagen"
    (r"(?:inte|ej)\s+(?:\w+\s+)?förenlig\w*\s+med|svårförenlig\w*\s+med", "oppose", 1),
    (r"fel\s+väg(?:\s+att\s+gå)?\b", "oppose", 1),
    # an adjective may stand inside: "ingen principiell invändning", "inga större erinringar", "inga avgörande hinder"
    (r"(?:har\s+)?(?:inget|ingenting|inte\s+något)\s+att\s+invända|(?:inga|ingen)\s+(?:\w+\s+)?invändning\w*", "support", 2),
    (r"(?:ingen|inga)\s+(?:\w+\s+)?erinr\w*|utan\s+erinran|lämnar\s+\w*\s*utan\s+(?:erinran|invändning\w*)", "support", 2),
    (r"ser\s+inga\s+(?:\w+\s+)?hinder|har\s+inget\s+emot", "support", 1),
    # the respondent's support as a noun: "har vårt stöd", "har förbundets fulla stöd"
    (r"(?:har|får)\s+(?:vårt|mitt|\w+(?:ens|ets|ns))\s+(?:\w+\s+)?stöd\b(?!\s+(?:i|av)\b)", "support", 2),
    # doubts whether it is needed or grounded: "har svårt att se behovet av", "saknar tillräckligt stöd i"
    (r"(?:har\s+)?svårt\s+att\s+se\s+(?:\w+\s+)?(?:behov\w*|nytta\w*|skäl\w*|motiv\w*|fördel\w*)|"
     r"saknar\s+(?:\w+\s+)?(?:stöd|underlag|grund)\s+i|saknar\s+(?:\w+\s+)?(?:skäl|motiv)\b", "oppose", 1),
    (r"tar\s+(?:\w+\s+)?(?:inte|ej)\s+(?:heller\s+)?(?:ställning|någon\s+ställning)|avstår\s+(?:\w+\s+)?från\s+att\s+(?:yttra|ta\s+ställning|"
     r"lämna\s+synpunkter)", "neutral", 2),
    (r"(?:(?:har|lämnar)\s+)?(?:inga|inte\s+några)\s+(?:synpunkter|kommentarer)|ingen\s+(?:\w+\s+)?(?:uppfattning|åsikt)", "neutral", 2),
    (r"inte\s+(?:\w+\s+){0,2}(?:medföra|leda\s+till|bidra\s+till|ge|innebära)\s+(?:\w+\s+)?(?:bättre|ökad\w*|förbättr\w*)", "oppose", 1),
    (r"att\s+föredra\s+(?:framför|före)", "oppose", 1),
    (r"kan\s+(?:\w+\s+)?inte\s+ställa\s+(?:sig|oss)\s+bakom", "oppose", 2),
    # Stance toward the inquiry itself, also as reported by others ("enligt SKR bör förslaget inte genomföras").
    (r"(?:till\s+skillnad\s+från|i\s+motsats\s+till)\s+(?:utredningen|utredaren|betänkandet|förslaget)", "oppose", 2),
    # main clause "förslaget bör inte genomföras", subordinate "(anser att) förslaget inte bör genomföras"
    (r"förslag\w*\s+(?:[\w-]+\s+){0,8}?(?:(?:bör|ska|skall|måste)\s+(?:inte|ej)|(?:inte|ej)\s+(?:bör|ska|skall|måste))\s+"
     r"(?:\w+\s+)?(?:genomföras|införas|antas|läggas\s+till\s+grund)", "oppose", 2),
    (r"(?:bör|ska|måste)\s+(?:därför\s+|helt\s+)?(?:strykas|utgå|avslås|dras\s+tillbaka|skrotas)\b", "oppose", 2),
    (r"(?:bör|ska|skall|måste)\s+förslag\w*\s+(?:[\w-]+\s+){0,8}?(?:inte|ej)\s+(?:\w+\s+)?(?:genomföras|införas|antas)",
     "oppose", 2),
    (r"förslag\w*\s+(?:(?!inte\b|ej\b)\w+\s+)?(?:bör|ska|skall|måste)\s+(?:\w+\s+)?(?:genomföras|införas|antas|"
     r"läggas\s+till\s+grund)", "support", 2),
    # the respondent's view on a long object: "anser att förslaget om ett nytt register bör genomföras"
    (r"(?:anser|menar|tycker)\s+(?:\w+\s+)?att\s+(?:\w+\s+)?förslag\w*\s+(?:(?!inte\b|ej\b|att\b|som\b)[\w-]+\s+){0,8}?"
     r"(?:bör|ska|skall|måste)\s+(?:\w+\s+)?(?:genomföras|införas|antas)", "support", 2),
    (r"(?:bör|ska|skall|måste)\s+förslag\w*\s+(?:[\w-]+\s+){0,8}?(?:genomföras|införas|antas)", "support", 2),
    # ... and on the proposed measure itself, in the subordinate clause's word order: "anser att de föreslagna
    # avgifterna inte bör införas" (a lean; a target phrased "bör inte införas" turns it round)
    (_VIEW_THAT_MEASURE + r"(?:inte|ej)\s+(?:bör|ska|skall|behöver)\s+(?:\w+\s+)?(?:införas|genomföras|inrättas|tillåtas)\b",
     "oppose", 1),
    (_VIEW_THAT_MEASURE + r"(?:bör|ska|skall|behöver)\s+(?:\w+\s+)?(?:införas|genomföras|inrättas)\b", "support", 1),
    (r"säger\s+nej\s+till|tar\s+(?:\w+\s+)?avstånd\s+från|vänder\s+(?:sig|oss)\s+(?:\w+\s+)?mot|avråd\w*\s+från", "oppose", 2),
    # endorsing the proposal; endorsing another body's opinion says nothing of its own
    (r"ansluter\s+(?:sig|oss)\s+(?:\w+\s+)?till\s+(?!(?:\w+\s+){0,4}(?:yttrande|synpunkter|remissvar))", "support", 2),
    (r"säger\s+ja\s+till", "support", 2),
    (r"(?:inget|ingenting|inte\s+något)\s+att\s+erinra", "support", 2),
    # not wanting what is proposed (a lean; a target phrased "bör inte införas" turns it round)
    (r"(?:vill|önskar)\s+(?:\w+\s+)?(?:inte|ej)\s+att\b", "oppose", 1),  # "Vi vill inte att X slås ihop"
    # "X ska inte höjas": a change the inquiry proposes, refused (not "ändras"/"avskaffas", which titles that keep
    # things as they are use: "X bör inte avskaffas")
    (r"\b(?:ska|skall|bör|får)\s+(?:inte|ej)\s+(?:heller\s+)?(?:höjas|sänkas|förlängas|förkortas|slås\s+(?:ihop|samman)|"
     r"utvidgas)\b", "oppose", 1),
    (r"(?:lämnar|gör|avger)\s+(?:inget|inte\s+något)\s+ställningstagande|(?:inget|ej)\s+ställningstagande\b|(?:har\s+)?inte\s+(?:kunnat\s+)?(?:enas|"
     r"tagit\s+ställning)|avstår\s+från\s+(?:att\s+)?(?:ställningstagande|yttrande)", "neutral", 2),
]

# Cues whose polarity flips when a negator stands next to them ("instämmer inte", "stödjer ej").
CUES = [
    (r"tillstyrk(?!an\b)\w*", "support", 2),  # "nämndens tillstyrkan" names a permit, not a verdict
    (r"instämm\w*|instämde", "support", 2),
    # the subject may stand between verb and pronoun after an adverbial ("Därför ställer vi oss bakom")
    (r"ställ\w*\s+(?:\w+\s+)?(?:sig|oss|mig)\s+(?:\w+\s+){0,3}bakom", "support", 2),
    (r"ställ\w*\s+(?:\w+\s+)?(?:sig|oss|mig)\s+(?:\w+\s+){0,2}positiv\w*", "support", 2),
    (r"ser\s+(?:\w+\s+){0,3}positivt\s+på|ser\s+(?:det|detta|dessa)\s+som\s+(?:\w+\s+)?positiv\w*", "support", 2),
    (r"välkomna\w*|välkommet", "support", 2),
    (r"stöd(?:er|jer)|stödja|ger\s+(?:sitt\s+)?stöd", "support", 2),
    (r"delar\s+(?:\w+\s+){0,4}(?:bedömning\w*|uppfattning\w*|slutsats\w*|synen|analys\w*|ställningstagande\w*|"
     r"grundsyn\w*|synsätt\w*|utgångspunkt\w*)", "support", 2),
    # weighed and found sound ("väl avvägt", "välmotiverat"); negated ("inte tillräckligt underbyggt") against
    (r"(?:väl|tillräckligt|ordentligt)\s*(?:underbygg|motiver|avväg|genomtänk|utred|analyser)\w*|steg\s+i\s+rätt\s+riktning|viktigt\s+steg\b",
     "support", 1),
    (r"(?:ser|se)\s+(?:\w+\s+){0,2}(?:behov\w*\s+av|fördel\w*\s+med)\s+(?!att\b)", "support", 1),
    (r"ser\s+(?:\w+\s+)?fram\s+emot", "support", 1),
    (r"(?:goda|starka|tungt\s+vägande|bärande|vägande)\s+skäl\s+(?:för|att|till)\b", "support", 1),
    (r"håller\s+(?:(?:vi|jag|inte|ej|därför|heller|alltså)\s+){0,2}med\b", "support", 2),  # "Det håller vi inte med om"
    (r"bifaller\s+(?:utredningens|förslag)", "support", 2),
    (r"(?:är|vore|blir)\s+(?:\w+\s+)?(?:positiv\w*|bra|angelägen\w*|välkommen|nödvändig\w*|rätt|riktigt|rimlig\w*|realistisk\w*|ändamålsenlig\w*|proportionerlig\w*|genomförbar\w*|befogad\w*|"
     r"klokt|utmärkt)\b", "support", 1),
    (r"positiv\w*\s+till", "support", 1),
    (r"har\s+(?:\w+\s+)?förståelse\s+för", "support", 1),
    (r"(?:en\s+)?(?:god|bra)\s+idé", "support", 1),
    (r"(?:går|ligger)\s+(?:inte\s+|ej\s+)?i\s+linje\s+med", "support", 1),
    (r"avstyrk\w*", "oppose", 2),
    (r"\b(?:är|vara|var)\s+(?:\w+\s+)?emot\b", "oppose", 2),  # "är emot förslaget"; "är inte emot" is no objection
    (r"motsätt\w*\s+(?:\w+\s+)?(?:sig|oss)|motsätter", "oppose", 2),
    (r"avvisa\w*", "oppose", 2),
    (r"(?:starka\s+|flera\s+)*argument\s+mot", "oppose", 2),
    (r"negativ\w*\s+till|ser\s+negativt", "oppose", 2),
    (r"kritisk\w*\s+till|kritik\s+mot", "oppose", 2),
    # a judgement negated at a distance: "är enligt nämndens mening inte realistisk"
    (r"(?:inte|ej)\s+(?:\w+\s+)?(?:realistisk|rimlig|ändamålsenlig|proportionerlig|genomförbar|befogad|lämplig|motiverad)\w*",
     "oppose", 1),
    (r"ifrågasätt\w*|går\s+(?:\w+\s+)?(?:för|alltför)\s+långt|ompröva\w*|omarbeta\w*|utredas\s+(?:vidare|ytterligare)|"
     r"(?:analyseras|övervägas|beredas)\s+(?:vidare|ytterligare)", "oppose", 1),
    (r"varna\w*\s+för", "oppose", 1),
    (r"godta\w*|accepter\w*|godkänner|förorda\w*|bejaka\w*|biträd(?:er|a|de|it)\b", "support", 2),
    (r"(?:är|vore|blir|framstår\s+som)\s+(?:\w+\s+)?(?:förhasta\w*|olämplig\w*|onödig\w*|kontraproduktiv\w*|"
     r"otillräcklig\w*|problematisk\w*|orimlig\w*|felaktig\w*|ogenomtänkt\w*|verkningslös\w*|ineffektiv\w*|olycklig\w*|"
     r"alltför\s+långtgående|ett\s+misstag)", "oppose", 1),
    (r"kritisk\w*", "oppose", 1),
    (r"beklaga\w*", "oppose", 1),
]

# Hedges: hesitation about a proposal. Alone (with objections) a lean against; beside support, mixed
# ("tveksam … kan dock stödja …", LABELING.md). Preferring another solution is hesitation too.
HEDGES = [
    r"tveksam\w*", r"(?:viss|stor|stark)\s+tvekan", r"med\s+tvekan", r"skeptisk\w*", r"inte\s+(?:helt\s+)?övertygad\w*",
    r"frågande\s+till", r"föredra(?:r|git)?\s+(?:en\s+annan|ett\s+annat|andra|att)", r"hade\s+(?:hellre|helst)\s+sett",
    r"vore\s+(?:bättre|att\s+föredra)", r"gör\s+(?:större|mer)\s+nytta", r"förordar\s+(?:i\s+stället|en\s+annan|ett\s+annat)",
    r"hellre\s+(?:bör|ska|vill|skulle)", r"vill\s+(?:hellre\s+)?se\s+(?:en\s+annan|ett\s+annat|andra)\b",
]

# Risks and problems raised: a weak lean against ("raises only risks and objections").
RISKS = [
    r"risk\w*", r"\w*säkerhetsrisk\w*", r"farhåg\w*", r"oro\b", r"oroa\w*", r"befara\w*", r"ojämlik\w*", r"otydlig\w*", r"oklar\w*",
    r"försvår\w*", r"svårighet\w*", r"problem\w*", r"nackdel\w*", r"resursförsvagning\w*",
]
# A reason given for a position ("välkomnar förslaget eftersom det finns problem"): not what is agreed with.
CAUSAL = re.compile(r"\b(?:eftersom|då|därför\s+att|med\s+tanke\s+på|mot\s+bakgrund\s+av|genom\s+att)\b")

# Opposing a part of what was supported, after a contrast: "positiv till att X, men motsätter sig att
# Y ingår", "välkomnar förslaget men avstyrker den del som …" (LABELING.md: mixed).
PART_OBJECTION = re.compile(r"\b(?:motsätt\w*\s+(?:\w+\s+)?(?:sig|oss)|avstyrk\w*|vänder\s+(?:sig|oss)\s+(?:\w+\s+)?mot|"
                            r"avvisa\w*)\s+(?!(?:inte|ej)\b)(?:\w+\s+)?(?:att\b|den\s+del\w*|de\s+delar|delen\b)", re.I)
# What a verdict verb takes as its object clause is not a verdict of the respondent: "motsätter sig att en
# part ska anses ha godtagit".
VERDICT_CLAUSE = re.compile(r"\b(?:motsätt\w*\s+(?:\w+\s+)?(?:sig|oss)|avstyrk\w*|tillstyrk\w*|välkomna\w*|stöd(?:er|jer)|"
                            r"vänder\s+(?:sig|oss)\s+(?:\w+\s+)?mot|bakom)\s+(?:\w+\s+){0,2}?att\s+([^,.;:]*?)(?=\s+men\b|[,.;:]|$)", re.I)
# An answer form: a question put to the respondent ("Ställer ni er bakom förslaget …?") and its answer.
FORM_QUESTION = re.compile(r"\b(?:ni|er|ert|era)\b[^?]*\?\s*$", re.I)
FORM_ANSWER = re.compile(r"^\s*(?:svar\s*:?\s*)?(ja|nej)\b[\s,.;:!–-]*(.*)$", re.I | re.S)
# A form's question asks for a position ("Ställer ni er bakom …?", "Tillstyrker ni …?") or for comments.
POSITION_QUESTION = re.compile(r"\b(?:ställer|tillstyrker|stödjer|stöder|instämmer|delar|godtar|accepterar|välkomnar)\b", re.I)
COMMENT_QUESTION = re.compile(r"\b(?:synpunkter|kommentarer|invändningar|erinringar)\b", re.I)
# "Ja, med reservation", "Ja, delvis": a form's yes with a reservation is support with a condition.
FORM_RESERVATION = re.compile(r"\b(?:reservation\w*|delvis|förbehåll\w*|villkor\w*|tvekan|men)\b", re.I)
# Support for part of it: "kan acceptera att nivån ändras, men inte till den nivå som föreslås".
PARTIAL = re.compile(r",?\s+men\s+(?:inte|ej)\s+(?:till|i|för|på|när|om|med|vid|utan)\b", re.I)
# The previous sentence's position, again: "Detsamma gäller förslaget om …", "Samma sak gäller …", "Likaså …".
SAME_AGAIN = re.compile(r"^\s*(?:detsamma|samma\s+(?:sak|sak\s+)?|det\s+samma)\s+gäller\b|^\s*likaså\b", re.I)
# A negated opinion verb negates its clause: "anser inte att förslaget är väl underbyggt".
RAISED_NEGATION = re.compile(r"\b(?:anser|menar|bedömer|tycker|tror|finner)\s+(?:\w+\s+)?(?:inte|ej)(\s+att\b[^.;:]*)", re.I)
# What a doubt is about is not asserted: "inte övertygad om att förslaget är rätt väg".
DOUBTED_CLAUSE = re.compile(r"\b(?:övertygad\w*|tveksam\w*|skeptisk\w*|ifrågasätt\w*|osäker\w*|tvivl\w*|tvivel)\s+"
                            r"(?:\w+\s+){0,2}?(?:om|huruvida|på\s+att|till\s+att|till\s+om)\s+([^,.;:]*)", re.I)

CONDITIONS = [
    r"under\s+(?:förutsättning\w*|villkor\w*)\s+att", r"förutsatt\s+att", r"med\s+förbehåll",
    r"på\s+villkor\s+att", r"(?:bara|enbart|endast)\s+(?:om|under|på\s+villkor|förutsatt)\b", r"kan\s+(?:dock|ändå|i\s+så\s+fall|eventuellt|möjligen)\s+(?:\w+\s+)?(?:stödja|tillstyrka|godta|acceptera)",
]
# "kan stödja en försöksordning om den utvärderas oberoende": a support verb, then "om" + a clause
# with a passive verb — a condition ("if"), not "förslaget om X" or "håller med om att".
CONDITIONAL_IF = re.compile(r"\b(?:stödja|stödjer|stöder|tillstyrk\w*|godta\w*|accepter\w*|ställa\s+sig\s+bakom)\b"
                            r"[^.;:]{0,100}?(?<!med\s)(?<!förslaget\s)(?<!förslagen\s)\bom\s+(?!att\b)(?:\w+\s+){0,3}"
                            r"\w{2,}(?:as|förs|ges|tas|ds)\b")

CONTRAST = r"\b(?:men|dock|däremot|samtidigt|emellertid|även\s+om)\b"
NEGATORS = {"inte", "ej", "icke", "aldrig", "inga", "ingen", "inget"}
# "inte minst", "inte bara": emphasis ("not least", "not only"), not negation of the cue.
NOT_NEGATING_NEXT = {"minst", "bara", "enbart", "endast", "blott"}

# The inquiry as grammatical subject: description of what is proposed, not the respondent's view.
DESCRIPTION_START = re.compile(
    r"^(?:i\s+)?(?:utredningen|utredaren|utredningens\s+(?:förslag|bedömning|uppdrag)\w*|betänkandet|direktiven|"
    r"regeringen|avsnittet|kapitlet|förslaget\s+innebär|som\s+beskrivs|enligt\s+(?:utredningen|förslaget|betänkandet)|"
    r"de\s+aktuella\s+förslagen|en\s+utredning)\b",
    re.I,
)
DESCRIPTION_VERBS = re.compile(
    r"\b(?:föreslår|föreslås|bedömer|bedöms|menar|beskriver|skriver|lämnar|anger|anges|visar|konstaterar|redogör|"
    r"pekar|presenteras|innebär|har\s+gjorts|framhåller)\b",
    re.I,
)
# Sections that restate the inquiry (a protocol's case description, the background).
DESCRIPTION_HEADINGS = re.compile(
    r"^(?:ärendebeskrivning|bakgrund|ärendet|sammanfattning\s+av\s+(?:betänkandet|utredningen)|utredningens\s+förslag|"
    r"beslutsunderlag|remissen)\b",
    re.I,
)
# Parts of one section: the respondent's view of what the section's heading names ("Kommunens synpunkter",
# "Vår bedömning"), beside the description parts above ("Utredningens förslag").
VIEW_HEADINGS = re.compile(
    r"^(?:(?:vår|våra|vårt|[\w-]+:?s)\s+)?(?:bedömning|synpunkter|synpunkt|kommentar(?:er)?|ställningstagande|"
    r"motivering|skäl|yttrande|överväganden|inställning|uppfattning|förslag\s+till\s+beslut)\W*$",
    re.I,
)

# A position taken on the inquiry as a whole or on a group of its proposals.
GENERAL_OBJECT = re.compile(  # not "ett av betänkandets viktigaste förslag": one of them
    r"(?<!\bett\sav\s)(?<!\ben\sav\s)(?<!\bnågot\sav\s)\b(?:utredningens|betänkandets|de|samtliga|alla|övriga|resterande|dessa|flertalet|merparten\s+av)\s+"
    r"(?:(?!att\b)\w+\s+){0,2}(?:förslag|bedömningar|slutsatser|ställningstaganden|förslagen|bedömningarna)\b(?!\s+(?:att|om)\b)"
    r"|\bi\s+allt\s+väsentligt\b|\bi\s+stort\b|\butredningen\s+i\s+sin\s+helhet\b|\bbetänkandet\s+i\s+(?:sin\s+helhet|stort)"
    r"|\bi\s+övrigt\b|\b(?:övriga|resterande)\s+delar\b",
    re.I,
)
# A group named by its theme or chapter: "förslagen om avgifterna", "förslagen i kapitel 6" (a list of
# named proposals, "förslagen om X och om Y", names them one by one instead).
GROUP_OBJECT = re.compile(r"\b(?:förslagen|bedömningarna|de\s+förslag|(?:övriga|resterande)\s+(?:förslag|bedömningar)(?:na)?)(?:\s+och\s+(?:förslagen|bedömningarna))?\s+(?:om|kring|gällande|rörande|avseende|i\s+kapit(?:el|len|let)|"
                          r"i\s+avsnitt(?:en)?|inom)\b(?![^.;]*\b(?:och|samt)\s+(?:om|kring|gällande)\b)", re.I)
# A position on "dem", "dessa (förslag)": the group the sentence before named ("Förslagen i kapitel 7 … berör
# inte oss. Föreningen lämnar dem utan erinran.").
BACK_TO_GROUP = re.compile(r"\b(?:dem|dessa)\b(?=\s*(?:[.,;!]|utan\b|$))|\bdessa\s+(?:förslag|bedömningar)\b", re.I)
# "övriga förslag", "i övrigt": only what was not addressed before.
GENERAL_REST = re.compile(r"\b(?:övriga|resterande|andra)\s+(?:\w+\s+)?(?:förslag|bedömningar)|\bi\s+övrigt\b|"
                          r"\b(?:övriga|resterande)\s+delar\b", re.I)
# "i övrigt", "i övriga delar": the rest of the inquiry, unless the sentence's object is one proposal
# ("I övrigt tillstyrker kommunen förslaget": otherwise, the proposal under discussion).
REST_ADVERBIAL = re.compile(r"i\s+övrigt|(?:övriga|resterande)\s+delar", re.I)
ONE_PROPOSAL = re.compile(r"\b(?:förslaget|bedömningen|ställningstagandet)\b", re.I)
# "i allt väsentligt", "i stort" qualify a position; on a proposal named by its object they are not the whole inquiry
MOSTLY = re.compile(r"i\s+allt\s+väsentligt|i\s+stort", re.I)
NAMED_OBJECT = re.compile(r"\b(?:förslaget|bedömningen)\s+(?:om|att|till|i\s+avsnitt)\b|\bi\s+(?:denna|den|detta)\s+(?:del|delen|avseende)\b|\b(?:när\s+det\s+gäller|vad\s+gäller|"
                          r"i\s+fråga\s+om|beträffande)\s+(?:förslaget|bedömningen)\b", re.I)
# Objects sharing one verb: "positiv till X och till Y", "förslagen om X samt om Y".
COORDINATED = re.compile(r",?\s+(?:och|samt|liksom)\s+(?=(?:till|om|för|på|av|med|kring|gällande)\s)", re.I)
# Where a sentence about several proposals turns: its clauses are read apart.
CLAUSE_BREAKS = re.compile(r"\s*;\s*|,?\s+(?:men|medan|däremot|samtidigt\s+som|dock)\s+|,\s+(?:och|samt)\s+(?=(?:\w+\s+){0,3}"
                           r"(?:avstyrk|tillstyrk|instämm|stöd|motsätt|ställ|delar|välkomna|ser\s))|\s+samt\s+", re.I)

# A clause that opens with a subordinator of contrast ends at its first comma: "Medan förbundet stöder X,
# kan vi inte ställa oss bakom Y".
# (it opens the sentence: capitalised, or first, where a heading ran into the sentence).
CONTRASTIVE_OPENING = re.compile(r"(?:^\s*(?:medan|även\s+om|trots\s+att|samtidigt\s+som|fastän)|"
                                 r"\b(?:Medan|Även\s+om|Trots\s+att|Samtidigt\s+som|Fastän))\s")

# A member's motion or reservation in minutes ("NN (V) yrkar att …", "reserverar sig mot beslutet"), or
# the headings they stand under: not the body's position.
MOTION = re.compile(r"\b(?:yrkar|yrkade|yrkandet|ändringsyrkande\w*|reserver(?:ar|ade)\s+(?:sig|mig|oss))\b", re.I)
MOTION_HEADINGS = re.compile(r"^(?:(?:skriftlig|muntlig)\s+)?(?:yrkanden?|reservation(?:er)?)\b|^(?:särskilt\s+yttrande|"
                             r"protokollsanteckning\w*|propositionsordning)\b", re.I)

# Proposals phrased as "X should not be introduced": arguing against X supports them. A sentence that
# restates such a title ("4.5 Det bör inte införas X  Tillstyrks") takes its position on it as phrased.
_SHOULD_NOT = r"\b(?:bör|ska|skall)\s+(?:inte|ej)\s+(?:införas|genomföras|inrättas|tillåtas|ges)\b"
NEGATED_TARGET = re.compile(_SHOULD_NOT + r"|^(?:inga|ingen|inget)\b", re.I)
RESTATED_NEGATION = re.compile(_SHOULD_NOT, re.I)
# A sentence about the proposal itself, not about the action it concerns.
# A line ending in a word that a section number follows ("… i avsnitt" / "8.2.1. …"): the number
# at the start of the next line is a reference the line break moved there, not a heading.
BEFORE_SECTION_NUMBER = re.compile(r"\b(?:avsnitt(?:en)?|kapitel|kapitlen|kap\.|punkt(?:erna)?|paragraf(?:erna)?|"
                                   r"bilaga|sidan|s\.|se|jfr|och|samt|eller)$", re.I)
PROPOSAL_REFERENCE = re.compile(r"\b(?:förslag\w*|bedömning\w*|utredningens|ställningstagande\w*|"
                                r"(?:samma|annan)\s+uppfattning)\b", re.I)  # "har en annan uppfattning": than the inquiry

# Common Swedish function words that are not words of Norwegian, Danish or English (det, som, på,
# med, har, en, den, kan, vi, men, om are Norwegian and Danish too): their share of a text's words
# tells Swedish prose (pipeline/stages/language.py).
LANGUAGE_MARKERS = frozenset("""
och att är för till inte ett ska från vara detta också även dessa när där bör finns vid inom deras
våra hur vilket vilka vilken här mellan genom andra än mycket redan utan något några någon eftersom
måste därför dock kunna
""".split())

# Words of the remiss genre and of any inquiry's proposals that say nothing about *which* proposal a
# sentence is about ("förslaget", "utredningen", "ska införas"): left out when matching the catalog.
REMISS_WORDS = frozenset("""
förslag förslaget förslagen förslagens bedömning bedömningen bedömningar bedömningarna utredning utredningen
utredningens utredaren betänkande betänkandet betänkandets regeringen remiss remissen remissvar yttrande yttrandet
synpunkt synpunkter avsnitt avsnittet kapitel kapitlet del delen punkt punkten ställningstagande ställningstaganden
ska skall bör kan får ges införs införas inrättas tas fram även också nya ny nytt vidare genom finns ingen inga inget
anser anför tillstyrker avstyrker instämmer delar stödjer stöder välkomnar föreslår föreslås föreslagna föreslagen
möjlighet möjligheten möjligheter möjligheterna stärkt stärka stärkas stärkta stärks ökad ökade ökat förbättrad
förbättrade särskild särskilda särskilt tydligare tydlig tydliga
inledning sammanfattning bakgrund övergripande avslutning slutsats slutsatser kommentar kommentarer
""".split())  # the last line: a response's own section headings, which name no proposal

# Word classes the catalog matcher needs to read a quoted title: a preposition before it makes it a modifier
# ("värdet för | det X Y"); articles are skipped; these and the fillers do not make a title distinctive.
PREPOSITIONS = frozenset("av för till om i på med mot vid inom från under efter genom hos mellan utan över kring".split())
ARTICLES = frozenset("en ett den det de".split())
TITLE_FILLERS = frozenset("ska skall bör får kan inte ej och samt som".split())
# A subject pronoun right after the verb: the words before it are an object put first ("X har vi inget att invända mot").
SUBJECT_PRONOUNS = frozenset("vi jag ni man".split())

# Finite verbs a respondent opens its sentences with ("Kommunen avstyrker", "Myndigheten för X anser"): the words
# before them name who speaks, not what about.
SPEAKER_VERBS = frozenset("""
tillstyrker avstyrker anser ser delar instämmer stödjer stöder välkomnar har är ställer kan vill bedömer motsätter
menar understryker noterar konstaterar förordar föreslår saknar efterfrågar betonar framhåller lämnar tar avstår
godtar accepterar ifrågasätter vänder bejakar beklagar uppskattar anför påpekar önskar hänvisar tycker
""".split())

# Verbs only a respondent takes as subject ("Kommunen anser", "Förbundet avstyrker"): the word before
# one, opening a sentence, is how the respondent names itself.
SELF_NAMING_VERBS = frozenset("""
tillstyrker avstyrker anser instämmer stödjer stöder välkomnar motsätter menar förordar ifrågasätter understryker
""".split())

# The respondent speaking of itself: as the subject of a verb only a respondent takes, or as "vi".
SPEAKS = re.compile(r"^(?:[\w.\-–]+\s+){0,4}?(?:" + "|".join(sorted(SELF_NAMING_VERBS)) + r")\b|\b(?:vi|oss|vår|vårt|våra)\b",
                    re.I)

# The respondent stating a view of its own in the opening words ("Nämnden anser att …", "Vi vill se …",
# "Förbundet menar …") or a wish in the passive ("… önskas en tydlighet"): a sentence an analyst quotes
# even when it carries no position for or against.
VIEW = re.compile(r"^(?:[\w.\-–]+\s+){0,5}?(?:anser|menar|bedömer|vill|förordar|efterfrågar|understryker|betonar|"
                  r"framhåller|önskar|påpekar|tycker|föreslår|förespråkar|ifrågasätter|saknar|ser\s+(?:behov|gärna))\b|"
                  r"\b(?:önskas|efterfrågas|förordas|eftersträvas)\b|^\s*enligt\s+(?:vår|min|\w+s)\s+(?:mening|uppfattning|"
                  r"bedömning)\b|\b(?:det\s+är\s+)?vår\s+(?:uppfattning|bedömning|mening)\s+(?:är\s+)?att\b", re.I)

# A verdict: a line "5.3 Tillstyrks" or a flattened table row "6.4 Register Avstyrker" is an answer, not a heading.
VERDICT = re.compile(r"\b(?:tillstyrk(?!an\b)\w*|avstyrk\w*|instämm\w*|stöd(?:s|er|jer)|godta\w*|avvisa\w*|"
                     r"inga\s+(?:synpunkter|invändningar)|(?:ingen|utan)\s+erinran|inget\s+att\s+invända|(?:inget|ej)\s+ställningstagande)\b",
                     re.I)

# What the respondent thinks should be done ("X bör ses över", "ska inte användas för att"): a view on
# the matter, if not a position for or against a proposal.
NORMATIVE = re.compile(r"\b(?:bör|borde|behöver|måste|ska|skall)\s+(?:inte\s+|därför\s+|också\s+|även\s+)?"
                       r"(?:\w+\s+){0,3}?\w+(?:as|a)\b", re.I)

# Function words: a line that ends on one of these was wrapped mid-sentence (it is no heading), and
# they say nothing about which proposal a sentence is about. English "the/of/and" end wrapped lines too.
FUNCTION_WORDS = frozenset({
    "att", "och", "som", "i", "på", "för", "med", "av", "till", "om", "den", "det", "de", "en", "ett", "är",
    "har", "kan", "ska", "skall", "bör", "samt", "eller", "men", "från", "vid", "under", "inom", "mellan",
    "både", "vilket", "vilka", "där", "när", "så", "inte", "än", "utan", "genom", "mot", "efter", "hur",
    "vad", "vår", "våra", "sin", "sina", "dess", "deras", "över", "hos", "åt", "enligt", "kring", "bland",
    "the", "of", "and",
})
