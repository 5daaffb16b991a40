"""A seeded synthetic news corpus whose scores are known by construction.

It is the embedded default training set: small models must be able to learn the scores from
the text, and context-length experiments must show effects. How an article is built:

* **Scores.** A latent article quality ``q`` (a mixture: 36% off-topic/fluff, the rest broad)
  plus a per-dimension offset and independent noise, clipped to 0-10 and rounded to 0.1, so
  dimensions are correlated but distinguishable. Under ``spec.weighted_average`` + tiers
  (gatekeepers included) uplifting/v6 comes out at roughly 50% low / 40% medium / 10% high.
* **Evidence.** Every dimension gets 1-2 *evidence sentences* whose wording reflects its score
  band (0-2.9, 3-4.9, 5-6.9, 7-8.9, 9-10; four phrasings per band). uplifting/v6 has
  hand-written banks (:data:`PHRASE_BANKS`); any other spec gets graded sentences built from
  each dimension's ``description`` and nearest ``scale`` anchor, so any valid spec works.
* **Layout.** Opening paragraph(s): a neutral lead + evidence for the *head* dimensions.
  Middle: neutral filler (logistics, history, weather, schedules) with no score information.
  Closing paragraph: evidence for the *tail* dimensions + a neutral sign-off. For articles
  longer than 512 tokens about half the dimensions are tail-only and the tail evidence starts
  after token 512, yet all evidence lies within the first/last ~256 tokens: a head-512 model
  misses it, a head+tail (256+256) model sees it. (Budgets fit ~8 dimensions; a spec with
  many more gets one sentence per dimension and its opening/closing may exceed 256 tokens.)
* **Length.** A length bucket (Qwen2.5 tokens: <=512, 512-1024, 1024-2048, >2048) drawn with
  tier-dependent probabilities (high tier longer), overall ~78/12/8.6/1.7%; the text is filled
  to a target using a cheap token estimate calibrated on the real Qwen2.5 tokenizer.

Deterministic for (spec, n, seed): numpy ``default_rng(seed)`` for scores and lengths, one
``random.Random`` per article (seeded from a string, so no hash randomisation) for text.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
import string
from functools import lru_cache
from typing import Any

import numpy as np

from distillery.filters.spec import FilterSpec

__all__ = ["generate_corpus", "generate_corpus_with_evidence", "corpus_stats", "evidence_sentence", "score_band",
           "estimate_tokens", "PHRASE_BANKS", "GENERATOR", "BUCKET_EDGES", "LENGTH_MIX", "TOP_TIER_LENGTH_MIX"]

GENERATOR = "distillery.synthetic/1"
BAND_EDGES = (3.0, 5.0, 7.0, 9.0)  # band b holds scores in [edge[b-1], edge[b])
BUCKET_EDGES = (512, 1024, 2048)  # Qwen2.5 tokens of "title\n\ncontent"
# target-token ranges drawn per bucket (kept off the edges so estimate error cannot cross them)
_BUCKET_TARGETS = ((190, 465), (640, 960), (1130, 1930), (2200, 2850))
LENGTH_MIX = (0.777, 0.120, 0.086, 0.017)  # overall share per bucket
TOP_TIER_LENGTH_MIX = (0.43, 0.49, 0.075, 0.005)  # share per bucket within the top tier
HEAD_BUDGET, TAIL_BUDGET, TAIL_START = 215, 215, 560  # estimated tokens

# ---- hand-written evidence banks for uplifting/v6: dimension -> 5 bands -> phrasings -------
# Slots: {project} {place} {org} {count} {pct} {group} {journal} {auditor} {year} {years}.
# {count} and {pct} are drawn from band-specific ranges, so magnitudes are graded too.
_BANKS_TEXT = {
    "human_wellbeing_impact": """
There is no sign that {project} has changed anyone's health, safety or income so far.
Residents said daily life in {place} had not improved, and some complained that the works had disrupted local services.
Critics noted that the scheme has so far improved no one's living conditions, and a few families say they are worse off.
For now, {project} makes no practical difference to people's health, housing or livelihoods.
|
A few households may see a small benefit, though the gains for people's wellbeing are modest and largely hypothetical.
Around {count} residents could see minor improvements in their daily lives if the plan works as intended.
The practical benefit for people's health or income is likely to be small and limited to a handful of families.
Supporters concede that any improvement in living conditions would be slight, at least at first.
|
About {count} people in {place} now have better access to care, food or safe housing as a result of {project}.
Families using the service report clear improvements in their health and household budgets.
The programme has made a noticeable difference to the wellbeing of a sizeable group of residents.
Local clinics say {count} people have been helped with health, food or housing needs since the service began.
|
Substantial gains have reached {count} people, including fewer hospital admissions and higher household incomes.
Across the region, {count} residents are now healthier, safer or better housed than before.
Recorded illness rates among participants fell by {pct} percent, an improvement reaching thousands of people.
The change has substantially improved living conditions for thousands of families.
|
The results amount to a transformative improvement in health and living standards for {count} people across the country.
The change has lifted {count} people out of hardship nationwide, one of the largest gains on record.
Child mortality in the covered districts fell by {pct} percent, a life-changing improvement for millions of people.
Its effect on wellbeing is vast, as {count} people now have reliable access to clean water, care and income.
""",
    "social_cohesion_impact": """
The plan has divided opinion in {place}, with neighbours trading accusations at recent meetings.
The project has done nothing to bring people together and has deepened an existing rift between residents.
Nothing in the scheme involves residents working together, and it has no bearing on community ties.
Several community groups have refused to take part, saying the process shut them out.
|
A handful of volunteers have joined in, though most residents remain uninvolved.
There are early signs of neighbours cooperating, but participation has been thin.
Some residents said the sessions helped them meet people they did not know, although turnout was low.
The effort has drawn only a small circle of regular volunteers from the neighbourhood.
|
The effort has brought neighbours together, with {count} volunteers from different streets working side by side.
Residents describe a stronger sense of community, with shared meals and gatherings open to all.
Local groups that rarely cooperate have joined forces to run the project together.
The weekly sessions have become a meeting point for people of different ages and backgrounds.
|
Groups that had long been at odds, including tenants and landlords, now run the programme jointly.
Surveys record a marked rise in trust between neighbours and toward local institutions.
The project has built lasting partnerships between communities that previously had little contact.
Former rivals across the district now share decisions on a standing joint committee.
|
The initiative has bridged deep divides, bringing together communities separated for decades by conflict and mistrust.
Trust between once-hostile groups has risen sharply across the whole region, and the cooperation has endured.
For the first time in a generation, communities on both sides of a bitter divide are governing shared services together.
Observers call it a rare reconciliation that reaches across religious, ethnic and political lines.
""",
    "justice_rights_impact": """
The story has no bearing on anyone's rights or access to justice.
Questions of fairness or accountability do not arise in the plan.
No rights, legal protections or accountability measures are affected by the decision.
The decision was taken behind closed doors, and residents have no way to challenge it.
|
Campaigners say the plan could eventually make services a little fairer, but nothing binding has changed.
There is talk of a complaints procedure, though no rights have yet been extended.
Advocates welcomed a promise to review fairness in the process, which came without firm commitments.
Officials took a small step toward accountability by agreeing to publish some of their minutes.
|
Tenants in {place} now have a legal right to challenge unfair evictions at a free hearing.
The ruling gives a specific group of workers a concrete, enforceable right to back pay.
A new ombudsman can now investigate complaints against the authority and order remedies.
Officials must now publish their decisions and justify them, a real gain in accountability for residents.
|
The new law guarantees legal aid to {count} people who previously could not afford a lawyer.
Judges have ordered the authority to end discriminatory practices, and compliance is being enforced.
The reform gives thousands of residents enforceable rights to housing and a fair hearing.
Accountability has been strengthened, and officials who ignore the rules now face sanctions.
|
The landmark ruling establishes enforceable rights for millions of people who had been excluded.
Lawyers describe it as a landmark advance in civil rights, binding on every authority in the country.
The constitutional change enshrines equal protection for entire groups long denied it.
It is the largest expansion of access to justice in decades, with rights enforceable nationwide.
""",
    "evidence_level": """
The announcement offers no data, and organisers say they simply hope it will help.
So far the benefits are a matter of speculation, and nothing has been measured.
The claims rest entirely on a press release and the opinions of its backers.
Supporters predict great things, but no figures or outcomes have been reported.
|
The evidence so far is anecdotal, with a few participants telling reporters it had helped them.
Organisers point to testimonials and their own impressions rather than measured results.
Backers say it is working and cite stories from users, though no numbers have been collected.
Support for the claims comes mainly from self-reported feedback gathered by the organisers.
|
Figures compiled by the organisers show a {pct} percent improvement over the first year.
{org} reported measured outcomes, including attendance and cost figures, though outsiders have not checked them.
The programme's own monitoring data record {count} completed cases since launch.
Internal records show steady, measurable gains, according to the team running it.
|
An external evaluation by {auditor} confirmed the gains using before-and-after data.
Results were verified by university researchers who compared participants with a control group.
A review by the national statistics office found the reported outcomes to be accurate.
Independent evaluators checked the figures and found a {pct} percent improvement.
|
A randomised controlled trial published in the peer-reviewed journal {journal} confirmed the results.
An independent audit, later replicated in a peer-reviewed study, verified every reported outcome.
Several independent peer-reviewed evaluations, including one in {journal}, documented the effect.
Audited data covering {years} years and a peer-reviewed analysis both confirm the outcomes.
""",
    "benefit_distribution": """
The benefits go mainly to a small group of already well-off property owners.
Only members of a private club, most of them wealthy, can take part.
Critics point out that the scheme mostly serves people who were already comfortable.
The gains are concentrated among a narrow, privileged few.
|
The service is limited to a few dozen people, and places are allocated on a first-come basis.
Only residents of one small estate are eligible, so the reach is narrow.
Take-up has been limited, with most eligible families unaware that the service exists.
The benefits reach a small group, and those most in need are not specifically targeted.
|
The scheme is open to everyone in {place}, and uptake has been broad across the town.
Eligibility covers the whole district, reaching a broad local population.
People from most neighbourhoods in {place} have used the service.
Access is free and open to all residents, though it is not targeted at the poorest.
|
Low-income families are prioritised, and {count} households across the region have taken part.
Places are reserved first for {group}, and the scheme now covers several districts.
Most participants come from the poorest neighbourhoods, reflecting deliberate targeting.
The benefits reach a wide population, with extra support for {group}.
|
The programme reaches {count} people nationwide and is designed first for {group}.
Coverage is near-universal, and the most vulnerable households receive it automatically.
Across the country, the poorest fifth of households gain the most, by design.
It now serves millions of people, with priority for {group}, who had been left out of earlier efforts.
""",
    "change_durability": """
It was a one-off event, and nothing is planned once the day is over.
The effort ends next week, with no funding or plans to continue.
Organisers describe it as a single occasion rather than a lasting programme.
No money has been set aside beyond this season, so the change is unlikely to last.
|
Funding covers only the next few months, and the future of the scheme is uncertain.
The pilot runs until the end of the year, after which its future depends on new grants.
The project relies on short-term donations, leaving its continuation in doubt.
Officials say they hope to extend it, though nothing has been committed.
|
The programme has committed funding for the next {years} years.
A multi-year grant secures the service until at least {year}.
The council has built the costs into its budget for the next several years.
Staff have been hired on multi-year contracts, giving the scheme a stable footing.
|
The service has been written into the regional budget on a permanent basis.
A new permanent agency has been created to run the service.
The funding is now guaranteed by law through {year}, with support from all parties.
The facility is built to last for decades, with its maintenance funded by a standing endowment.
|
The change is now permanent, enshrined in law so that it cannot be reversed without a new act of parliament.
The reform permanently restructured the institutions involved, and it will outlive any government.
With a constitutional amendment and new national infrastructure in place, the change is permanent.
Permanent structural reform, backed by law, an endowment and new infrastructure, locks the change in.
""",
}
#: dimension name -> 5 bands (low to high) -> list of sentence templates.
PHRASE_BANKS: dict[str, list[list[str]]] = {
    dim: [[s.strip() for s in band.strip().splitlines() if s.strip()] for band in text.split("|")]
    for dim, text in _BANKS_TEXT.items()
}
_COUNT = ((5, 30), (20, 150), (200, 1500), (2000, 20000), (50000, 2000000))
_PCT = ((0, 2), (2, 5), (5, 12), (12, 30), (30, 60))
_YEARS = ((1, 1), (1, 2), (3, 5), (5, 10), (10, 20))

# generic fallback: intensity words per band and sentence patterns using the spec's own text
_INTENSITY = ("no meaningful", "limited", "moderate", "strong", "exceptional")
_EMPTY_ANCHOR = ("no sign of it at all", "only a little of it", "a fair amount of it", "a great deal of it",
                 "about as much of it as one could hope for")
_GENERIC = (
    "On {desc}, the reporting points to {intensity} results, closest to this: {anchor}.",
    "Judged on {desc}, {project} shows {intensity} results, in short: {anchor}.",
    "The article offers {intensity} evidence of {label}, in its own words: {anchor}.",
    "Assessed for {label}, the story rates as {intensity}, closest to this: {anchor}.",
)

# ---- slot fillers --------------------------------------------------------------------------
_PLACES = """Ashford Millbrook Riverton Eastleigh Hawthorn Kingsbridge Oakdale Brackenfield Stonehaven
Fairport Linwood Marlow Northgate Pembury Redcliffe Saltmarsh Thornbury Westfield Alderley Bramhall
Carnforth Dunmore Elmstead Glenwood Harrowgate Ivybridge Kelso Larkhill Moorside Newhaven Oldcastle
Penrose Queensferry Rosedale Sandford Tidewater Upton Valemount Whitby Yarrow""".split()
_FIRST = """Maria James Aisha Tom Priya Daniel Chen Sarah Kwame Elena Omar Grace Lukas Fatima Peter
Hannah Ravi Sofia David Amara Jonas Leila Michael Nadia Samuel Ines George Yusuf Clara Ben""".split()
_LAST = """Okafor Hughes Patel Novak Brennan Silva Lindqvist Mensah Kowalski Reyes Murphy Haddad
Fischer Tanaka Osei Moreau Campbell Rossi Nakamura Doyle Abara Jensen Costa Webb Ahmed""".split()
_ROLES = ("a council spokesperson", "the project coordinator", "a local councillor", "the hall manager",
          "a volunteer organiser", "the area director", "a community worker", "the events officer")
_GROUPS = ("low-income families", "older people living alone", "disabled residents", "recent refugees",
           "single parents", "rural households without transport", "children in poverty", "homeless people")
_JOURNALS = ("The Lancet", "BMJ", "Nature", "Science", "PLOS Medicine", "the Journal of Public Economics")
_AUDITORS = ("the regional audit office", "researchers at the state university", "an outside evaluation firm")
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday".split()
_MONTHS = "January February March April May June July August September October November December".split()
_VENUES = ("the town hall", "the community centre", "St Mary's church hall", "the public library",
           "the old corn exchange", "the leisure centre", "the primary school gym", "the Methodist hall")
_STREETS = ("High Street", "Station Road", "Mill Lane", "Church Street", "Bridge Street", "Market Square",
            "Park Road", "Victoria Street", "Queen's Avenue", "Canal Walk")
_RIVERS = ("River Wren", "River Colne", "River Tamar", "River Lune", "River Avon", "River Esk")
_WEATHER = ("grey and drizzly", "bright but cold", "unusually warm", "windy", "wet for most of the day", "mild")
_OUTLETS = ("Courier", "Gazette", "Herald", "Post", "Chronicle", "Observer", "Times", "Echo")

# topic -> (org kinds, projects (noun phrase with "the ..."), topic-specific neutral filler)
_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "health": (("Health Trust", "Medical Centre", "Community Health Partnership"),
               ("the mobile clinic programme", "the new community health centre", "the free dental care scheme",
                "the mental health helpline"),
               ("The clinic building on {street} previously housed a bank.",
                "Appointments can be booked by phone or at the front desk.")),
    "housing": (("Housing Association", "Tenants' Cooperative", "Homes Partnership"),
                ("the affordable housing scheme", "the social housing renovation", "the tenancy support service",
                 "the empty homes project"),
                ("The estate was built in the {decade}s on the site of a former brickworks.",
                 "Several show flats were open for viewing on {weekday} afternoon.")),
    "education": (("Schools Trust", "Learning Partnership", "Adult Education Service"),
                  ("the after-school tutoring programme", "the free school meals extension",
                   "the adult literacy course",
                   "the new nursery places"),
                  ("The school's main building dates from {year_hist}.",
                   "Term starts again on the first {weekday} of {month}.")),
    "energy": (("Energy Cooperative", "Power Company", "Climate Partnership"),
               ("the community solar project", "the home insulation scheme", "the district heating network",
                "the energy advice service"),
               ("The panels were delivered on lorries along {street} early in the morning.",
                "A display board in the foyer explained how the meters work.")),
    "water": (("Water Board", "Rivers Trust", "Water Company"),
              ("the clean water pipeline", "the flood defence upgrade", "the well-drilling programme",
               "the sewage treatment upgrade"),
              ("The {river} is usually at its lowest in late {month}.",
               "Engineers in hard hats gave a short tour of the pumping station.")),
    "local government": (("Borough Council", "District Council", "Town Council"),
                         ("the participatory budget", "the new council one-stop shop", "the street lighting plan",
                          "the neighbourhood plan"),
                         ("The council chamber was refurbished in {year_hist}.",
                          "Councillors broke for ten minutes before the vote on the agenda.")),
    "science": (("Research Institute", "University Lab", "Science Park"),
                ("the malaria vaccine study", "the crop research programme", "the air quality sensor network",
                 "the genome screening project"),
                ("The laboratory is on the second floor of a converted warehouse.",
                 "Visitors were asked to wear lab coats during the tour.")),
    "courts": (("Law Centre", "Legal Aid Society", "Justice Network"),
               ("the legal aid clinic", "the eviction defence service", "the new family court procedure",
                "the victims' support desk"),
               ("The courthouse on {street} was built in the {decade}s in red sandstone.",
                "Hearings usually begin at ten o'clock and break for lunch at one.")),
    "community": (("Community Foundation", "Residents' Association", "Volunteer Network"),
                  ("the community garden", "the repair cafe", "the summer street festival", "the youth sports league"),
                  ("The bunting along {street} was put up by volunteers the night before.",
                   "A brass band played on the green during the afternoon.")),
    "business": (("Chamber of Commerce", "Enterprise Agency", "Business Network"),
                 ("the small business loan fund", "the apprenticeship scheme", "the high street revival plan",
                  "the new cooperative bakery"),
                 ("The market on {street} has been held every {weekday} since {year_hist}.",
                  "Several shop owners closed early to attend the presentation.")),
    "transport": (("Transport Authority", "Bus Company", "Cycling Trust"),
                  ("the free bus pass scheme", "the new cycle lanes", "the rural minibus service",
                   "the station accessibility upgrade"),
                  ("The station clock was restored by a local watchmaker in {year_hist}.",
                   "The number {route} bus runs every twenty minutes during the day.")),
    "food": (("Food Bank", "Food Partnership", "Farmers' Cooperative"),
             ("the community fridge", "the school breakfast club", "the surplus food network",
              "the allotment expansion"),
             ("The warehouse is open from eight until four on weekdays.",
              "Delivery vans are loaded in the yard behind {venue}.")),
}

_LEADS = (
    "Details of {project}, led by {org}, were presented to residents of {place} this week.",
    "Residents of {place} gathered on {weekday} to hear about {project} from representatives of {org}.",
    "{org} has set out how {project} works in {place}, in a briefing held at {venue}.",
    "{place} is the focus of {project}, which is run by {org}.",
    "Representatives of {org} described {project} to a meeting in {place} on {weekday}.",
)
_TITLES = (
    "{Project} in {place}: what we know", "{place} hears plans for {bare}", "{org} outlines {bare}",
    "Inside {place}'s {bare}", "A closer look at {bare} in {place}", "{place} residents ask about {bare}",
    "{Project} comes under the spotlight in {place}", "What {bare} means for {place}",
)
_FILLER = (
    "The meeting took place at {venue}, starting shortly after {time}.",
    "{person}, {role}, said the doors would open at {time} and that parking would be available nearby.",
    "{place} grew up as a market town in the {century} century and later expanded around its railway station.",
    "The weather on the day was {weather}, and several people arrived early to find seats.",
    "The next session is scheduled for {weekday}, {month} {day}, at {venue}.",
    "Copies of the slides will be available from the library on {street}.",
    "The building on {street} was a textile mill until the {decade}s.",
    "Bus routes {route} and {route2} stop outside the venue.",
    "A similar session was held in neighbouring {place2} last {month}.",
    "Questions from the audience covered opening hours, signage and parking.",
    "{place} sits on the {river}, roughly {miles} miles from the nearest city.",
    "The local football club played at home the same afternoon, and traffic on {street} was heavy.",
    "Minutes of the meeting will be posted on the noticeboard outside {venue}.",
    "The session was chaired by {person}, {role}.",
    "Local historians note that the market square was rebuilt after a fire in {year_hist}.",
    "{person} read out a short list of housekeeping notices before the main item.",
    "The heating was turned up after complaints about the cold.",
    "A stall outside sold cakes to raise money for the scout group.",
    "Signs directing visitors to the hall were put up along {street}.",
    "The {weekday} session ran about {minutes} minutes over schedule.",
    "A sign-language interpreter was present, and the session was also streamed online.",
    "The town's summer fair will take place on the green in {month}.",
    "{person}, {role}, said the timetable for the coming weeks would be sent out by email.",
    "In {year_hist}, the town council moved its offices to the former post office on {street}.",
    "Road works on {street} are expected to finish before the end of {month}.",
    "A reporter from the local radio station recorded several interviews afterwards.",
    "The hall was decorated with photographs from the town archive.",
    "{person} recalled that the building was once used as a cinema.",
    "Tea and coffee were served in the foyer during a short break.",
    "The evening closed with a reminder about the change to the recycling collection.",
    "The clock tower on the square, restored in {year_hist}, chimed during the presentation.",
    "Parking restrictions on {street} will apply on market days.",
    "The agenda also included an update on the Christmas lights.",
)
_WHEN = ("Earlier in the day", "Later that afternoon", "On {weekday} morning", "Before the session began",
         "Afterwards", "During the break", "At around {time}", "The previous evening", "Just before {time}",
         "Towards the end of the evening", "While the room filled up", "Once the speeches were over")
_WHO = ("a group of residents", "two council staff", "volunteers from {venue}", "{person}", "the caretaker",
        "a local photographer", "several shopkeepers from {street}", "a pair of students", "{person}'s neighbour",
        "a retired teacher from {place2}", "members of the choir", "the building's new tenants")
_DID = ("set out chairs in the main hall", "walked the route along {street}", "discussed the bus timetable",
        "checked the sound system", "handed out leaflets about the summer fair", "compared notes on the weather",
        "looked through old photographs of {place}", "stacked boxes of leaflets by the door",
        "tested the projector", "put up a map of {place} on the wall", "chatted about the football results",
        "swept the steps outside {venue}", "collected coats at the cloakroom", "moved tables into the side room",
        "queued for tea in the foyer", "argued good-naturedly about where to park", "fixed a wobbly table leg",
        "counted the spare programmes", "walked over from the bus stop on {street}", "found a seat near the back",
        "asked where the nearest cash machine was", "took photographs of the old fireplace")
_QUOTES = (
    "We tried to keep the presentation short", "Parking is always the first question people ask",
    "We will send out the dates as soon as they are confirmed", "The hall is booked until half past nine",
    "If anyone left a scarf behind, it is at the front desk", "We have printed more leaflets for next time",
    "The slides will go up on the noticeboard tomorrow", "The bus times changed last month, so do check",
    "We moved the meeting here because the library is being painted", "The microphone worked this time",
    "Most people came straight from work, so we kept it brief", "There is a lift at the side entrance",
)
_CLOSERS = ("Further details are available from {org}.", "The next public meeting is planned for {month}.",
            "{org} said it would post updates on its website.", "Questions can be sent to {org} by email.")


def score_band(score: float) -> int:
    """Band 0-4 of a 0-10 score (edges 3, 5, 7, 9)."""
    return int(np.searchsorted(BAND_EDGES, score, side="right"))


def estimate_tokens(text: str) -> float:
    """Cheap Qwen2.5 token estimate (digits are one token each), calibrated on the real one."""
    digits = sum(map(text.count, "0123456789"))
    return (len(text) - digits) / 5.05 + digits


def _draw_scores(spec: FilterSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, D) scores: latent quality + per-dimension offset + noise, clipped, rounded to 0.1."""
    off_known = {"human_wellbeing_impact": 0.3, "social_cohesion_impact": -0.3, "justice_rights_impact": -0.8,
                 "evidence_level": 0.2, "benefit_distribution": -0.1, "change_durability": -0.2}
    offsets = np.array([off_known.get(d, 0.0) for d in spec.dimension_names])
    low = rng.random(n) < 0.36  # off-topic / fluff articles
    q = np.where(low, rng.normal(1.4, 0.9, n), rng.normal(5.35, 1.6, n))
    s = q[:, None] + offsets[None, :] + rng.normal(0.0, 1.2, (n, len(offsets)))
    return np.round(np.clip(s, 0.0, 10.0), 1)


def _length_buckets(tier_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Length bucket per article, stratified by tier (exact quotas, shuffled): the top tier
    follows TOP_TIER_LENGTH_MIX, the others are set so the whole corpus follows LENGTH_MIX."""
    n = len(tier_idx)
    top_share = float(np.mean(tier_idx == 0)) if n else 0.0
    p_top = np.array(TOP_TIER_LENGTH_MIX) / sum(TOP_TIER_LENGTH_MIX)
    mix = np.array(LENGTH_MIX) / sum(LENGTH_MIX)
    p_rest = mix if top_share >= 1 else np.clip((mix - top_share * p_top) / (1 - top_share), 0.002, None)
    out = np.zeros(n, dtype=int)
    for members, p in ((np.flatnonzero(tier_idx == 0), p_top), (np.flatnonzero(tier_idx != 0), p_rest)):
        want = p / p.sum() * len(members)
        counts = np.floor(want).astype(int)
        counts[np.argsort(counts - want)[: len(members) - counts.sum()]] += 1  # largest remainders
        out[rng.permutation(members)] = np.repeat(np.arange(4), counts)
    return out


def _count(r: random.Random, band: int) -> str:
    c = r.randint(*_COUNT[band])
    return f"{round(c, -2) if c > 5000 else c:,}"


_SLOTS: dict[str, Any] = {  # slot -> f(article, rng, band)
    "project": lambda a, r, b: a.project, "place": lambda a, r, b: a.place, "place2": lambda a, r, b: a.place2,
    "org": lambda a, r, b: a.org, "bare": lambda a, r, b: a.project.removeprefix("the "),
    "Project": lambda a, r, b: a.project[4:5].upper() + a.project[5:], "count": lambda a, r, b: _count(r, b),
    "pct": lambda a, r, b: r.randint(*_PCT[b]), "years": lambda a, r, b: r.randint(*_YEARS[b]),
    "year": lambda a, r, b: r.randint(2026, 2030 + 5 * b), "group": lambda a, r, b: r.choice(_GROUPS),
    "journal": lambda a, r, b: r.choice(_JOURNALS), "auditor": lambda a, r, b: r.choice(_AUDITORS),
    "person": lambda a, r, b: r.choice(a.people), "role": lambda a, r, b: r.choice(_ROLES),
    "weekday": lambda a, r, b: r.choice(_WEEKDAYS), "month": lambda a, r, b: r.choice(_MONTHS),
    "day": lambda a, r, b: r.randint(1, 28), "venue": lambda a, r, b: a.facts["venue"],
    "street": lambda a, r, b: r.choice(_STREETS), "river": lambda a, r, b: a.facts["river"],
    "weather": lambda a, r, b: r.choice(_WEATHER),
    "time": lambda a, r, b: f"{r.randint(6, 8)}.{r.choice(['00', '15', '30', '45'])}pm",
    "century": lambda a, r, b: r.choice(["sixteenth", "seventeenth", "eighteenth"]),
    "decade": lambda a, r, b: r.randrange(1890, 1980, 10), "year_hist": lambda a, r, b: r.randint(1850, 1995),
    "route": lambda a, r, b: r.randint(2, 39), "route2": lambda a, r, b: r.randint(40, 99),
    "miles": lambda a, r, b: a.facts["miles"], "minutes": lambda a, r, b: r.choice([10, 15, 20, 25]),
}


@lru_cache(maxsize=None)
def _fields(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


class _Article:
    """Slot values fixed for one article so the story stays coherent, and a sentence filler."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.topic = rng.choice(list(_TOPICS))
        kinds, projects, self.topic_filler = _TOPICS[self.topic]
        self.place, self.place2 = rng.sample(_PLACES, 2)
        self.org = f"the {self.place} {rng.choice(kinds)}"
        self.project = rng.choice(projects)
        self.people = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3)]
        self.facts = {"venue": rng.choice(_VENUES), "river": rng.choice(_RIVERS), "miles": rng.randint(8, 40)}
        # one-off sentences (facts, quotes) are used at most once per article
        self.pool = [*_FILLER, *self.topic_filler, *(f'"{q}," said {{person}}, {{role}}.' for q in _QUOTES)]
        rng.shuffle(self.pool)

    def fill(self, template: str, band: int = 2) -> str:
        """Fill ``template``'s slots (only those it uses); numbers follow the score band."""
        r = self.rng
        slots = {k: _SLOTS[k](self, r, band) for k in _fields(template)}
        s = template.format_map(slots)
        return s[0].upper() + s[1:]

    def filler(self) -> str:
        """A neutral sentence: a not-yet-used one-off sentence, or a combinatorial one."""
        r = self.rng
        if self.pool and r.random() < 0.55:
            return self.fill(self.pool.pop())
        return self.fill(f"{r.choice(_WHEN)}, {r.choice(_WHO)} {r.choice(_DID)}.")


def _anchor(dim, score: float) -> str:
    if not dim.scale:
        return _EMPTY_ANCHOR[score_band(score)]
    key = min(dim.scale, key=lambda k: (abs(k - score), k))
    return dim.scale[key].strip().rstrip(".").lower()


def evidence_sentence(dim, score: float, art: _Article) -> str:
    """One sentence whose wording reflects ``score`` on ``dim`` (a spec Dimension)."""
    band = score_band(score)
    if dim.name in PHRASE_BANKS:
        return art.fill(art.rng.choice(PHRASE_BANKS[dim.name][band]), band)
    desc = dim.description.strip().rstrip(".") or dim.name.replace("_", " ")
    words = {"{desc}": desc[0].lower() + desc[1:], "{label}": dim.name.replace("_", " "),
             "{intensity}": _INTENSITY[band], "{anchor}": _anchor(dim, score)}
    template = art.rng.choice(_GENERIC)
    for k, v in words.items():  # spec text is inserted literally (braces in it are escaped)
        template = template.replace(k, v.replace("{", "{{").replace("}", "}}"))
    return art.fill(template, band)


def _paragraphs(sentences: list[str], rng: random.Random, lo: int = 2, hi: int = 5) -> list[str]:
    out, i = [], 0
    while i < len(sentences):
        k = rng.randint(lo, hi)
        out.append(" ".join(sentences[i:i + k]))
        i += k
    return out


def _build_article(spec: FilterSpec, scores: np.ndarray, bucket: int, rng: random.Random):
    """(title, content, evidence) where evidence = {"head": {dim: [...]}, "tail": {dim: [...]}}."""
    art = _Article(rng)
    title = art.fill(rng.choice(_TITLES))
    lo, hi = _BUCKET_TARGETS[bucket]
    target = rng.randint(lo, hi)
    dims = list(spec.dimensions)
    order = rng.sample(range(len(dims)), len(dims))  # presentation order; the first half goes last
    tail_ids = set(order[: len(dims) // 2])
    lead = art.fill(rng.choice(_LEADS))
    budget = {"head": HEAD_BUDGET - estimate_tokens(title) - estimate_tokens(lead), "tail": TAIL_BUDGET - 20}
    chosen: dict[int, list[str]] = {}
    for j in order:  # one sentence per dimension is mandatory
        chosen[j] = [evidence_sentence(dims[j], float(scores[j]), art)]
        budget["tail" if j in tail_ids else "head"] -= estimate_tokens(chosen[j][0]) + 1
    for j in order:  # a second one where the article is long enough and the budget allows
        part = "tail" if j in tail_ids else "head"
        if bucket >= 2 or (bucket == 1 and part == "head"):
            s = evidence_sentence(dims[j], float(scores[j]), art)
            if s not in chosen[j] and estimate_tokens(s) + 1 <= budget[part]:
                chosen[j].append(s)
                budget[part] -= estimate_tokens(s) + 1
    evidence: dict[str, dict[str, list[str]]] = {"head": {}, "tail": {}}
    head, tail = [lead], []
    for j in order[len(dims) // 2:] + order[: len(dims) // 2]:
        part = "tail" if j in tail_ids else "head"
        evidence[part][dims[j].name] = chosen[j]
        (tail if part == "tail" else head).extend(chosen[j])
    tail.append(art.fill(rng.choice(_CLOSERS)))
    used = estimate_tokens(title) + sum(estimate_tokens(s) + 1 for s in head + tail)
    floor = TAIL_START if bucket else 0  # long articles: the tail must start after token 512
    middle: list[str] = []
    seen: set[str] = set()
    head_tokens = estimate_tokens(title) + sum(estimate_tokens(s) + 1 for s in head)
    while used < target or head_tokens < floor:
        for _ in range(20):  # avoid repeating a sentence within an article
            s = art.filler()
            if s not in seen:
                break
        seen.add(s)
        middle.append(s)
        used += estimate_tokens(s) + 1
        head_tokens += estimate_tokens(s) + 1
    paras = _paragraphs(head, rng, 2, 3) + _paragraphs(middle, rng, 3, 6) + _paragraphs(tail, rng, 3, 4)
    return title, "\n\n".join(paras), evidence


def generate_corpus_with_evidence(spec: FilterSpec, n: int = 2400, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Like :func:`generate_corpus`, also returning per record the evidence sentences used:
    ``{"head": {dim: [sentence, ...]}, "tail": {dim: [...]}}`` (tail dims appear only in the
    closing paragraph; on articles > 512 tokens they are absent from the first 512 tokens)."""
    rng = np.random.default_rng(seed)
    scores = _draw_scores(spec, n, rng)
    tiers = spec.tier_index(spec.weighted_average(scores)) if n else np.zeros(0, dtype=int)
    buckets = _length_buckets(np.asarray(tiers), rng)
    start = _dt.date(2022, 1, 1).toordinal()
    records, evidence = [], []
    for i in range(n):
        r = random.Random(f"{GENERATOR}:{spec.ref}:{seed}:{i}")
        title, content, ev = _build_article(spec, scores[i], int(buckets[i]), r)
        outlet = f"{r.choice(_PLACES)} {r.choice(_OUTLETS)}"
        date = _dt.date.fromordinal(start + r.randint(0, 1275))
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        records.append({
            "id": f"syn-{spec.name}-v{spec.version}-s{seed}-{i:06d}",
            "title": title,
            "content": content,
            "url": f"https://www.{outlet.lower().replace(' ', '')}.example/{date:%Y/%m}/{slug}-{i}",
            "source": f"The {outlet}",
            "published_date": date.isoformat(),
            "language": "en",
            "labels": {d: float(v) for d, v in zip(spec.dimension_names, scores[i])},
            "oracle": "synthetic",
            "filter": spec.name,
            "filter_version": spec.version,
            "synthetic": {"generator": GENERATOR, "seed": seed},
        })
        evidence.append(ev)
    return records, evidence


def generate_corpus(spec: FilterSpec, n: int = 2400, seed: int = 0) -> list[dict]:
    """``n`` labelled synthetic articles for ``spec`` (deterministic for spec, n, seed)."""
    return generate_corpus_with_evidence(spec, n, seed)[0]


def corpus_stats(records: list[dict], spec: FilterSpec) -> dict[str, float]:
    """Share of records per tier (``spec.tier_names`` order), gatekeepers included."""
    if not records:
        return {t: 0.0 for t in spec.tier_names}
    scores = np.array([[r["labels"][d] for d in spec.dimension_names] for r in records], dtype=np.float64)
    idx = spec.tier_index(spec.weighted_average(scores))
    return {t: float(np.mean(idx == k)) for k, t in enumerate(spec.tier_names)}
