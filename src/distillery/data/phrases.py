"""The synthetic corpus's word material: hand-written evidence banks for uplifting/v6 (dimension ->
5 bands -> phrasings), graded magnitudes, the generic fallback for any other filter, and the slot
fillers and neutral sentences of the article scaffolding. Data only; ``data/synthetic.py`` draws
from it (its cache key covers both files).
"""

from __future__ import annotations

# ---- hand-written evidence banks for uplifting/v6: dimension -> 5 bands -> phrasings -------
# Slots: {project} {place} {org} {count} {pct} {group} {journal} {auditor} {year} {years}.
# {count} and {pct} are drawn from band-specific ranges, so magnitudes are graded too.
BANKS_TEXT = {
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
    for dim, text in BANKS_TEXT.items()
}
COUNT = ((5, 30), (20, 150), (200, 1500), (2000, 20000), (50000, 2000000))
PCT = ((0, 2), (2, 5), (5, 12), (12, 30), (30, 60))
YEARS = ((1, 1), (1, 2), (3, 5), (5, 10), (10, 20))

# generic fallback: intensity words per band and sentence patterns using the spec's own text
INTENSITY = ("no meaningful", "limited", "moderate", "strong", "exceptional")
EMPTY_ANCHOR = (
    "no sign of it at all",
    "only a little of it",
    "a fair amount of it",
    "a great deal of it",
    "about as much of it as one could hope for",
)
GENERIC = (
    "On {desc}, the reporting points to {intensity} results, closest to this: {anchor}.",
    "Judged on {desc}, {project} shows {intensity} results, in short: {anchor}.",
    "The article offers {intensity} evidence of {label}, in its own words: {anchor}.",
    "Assessed for {label}, the story rates as {intensity}, closest to this: {anchor}.",
)

# ---- slot fillers --------------------------------------------------------------------------
PLACES = """Ashford Millbrook Riverton Eastleigh Hawthorn Kingsbridge Oakdale Brackenfield Stonehaven
Fairport Linwood Marlow Northgate Pembury Redcliffe Saltmarsh Thornbury Westfield Alderley Bramhall
Carnforth Dunmore Elmstead Glenwood Harrowgate Ivybridge Kelso Larkhill Moorside Newhaven Oldcastle
Penrose Queensferry Rosedale Sandford Tidewater Upton Valemount Whitby Yarrow""".split()
FIRST = """Maria James Aisha Tom Priya Daniel Chen Sarah Kwame Elena Omar Grace Lukas Fatima Peter
Hannah Ravi Sofia David Amara Jonas Leila Michael Nadia Samuel Ines George Yusuf Clara Ben""".split()
LAST = """Okafor Hughes Patel Novak Brennan Silva Lindqvist Mensah Kowalski Reyes Murphy Haddad
Fischer Tanaka Osei Moreau Campbell Rossi Nakamura Doyle Abara Jensen Costa Webb Ahmed""".split()
ROLES = (
    "a council spokesperson",
    "the project coordinator",
    "a local councillor",
    "the hall manager",
    "a volunteer organiser",
    "the area director",
    "a community worker",
    "the events officer",
)
GROUPS = (
    "low-income families",
    "older people living alone",
    "disabled residents",
    "recent refugees",
    "single parents",
    "rural households without transport",
    "children in poverty",
    "homeless people",
)
JOURNALS = ("The Lancet", "BMJ", "Nature", "Science", "PLOS Medicine", "the Journal of Public Economics")
AUDITORS = ("the regional audit office", "researchers at the state university", "an outside evaluation firm")
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday".split()
MONTHS = "January February March April May June July August September October November December".split()
VENUES = (
    "the town hall",
    "the community centre",
    "St Mary's church hall",
    "the public library",
    "the old corn exchange",
    "the leisure centre",
    "the primary school gym",
    "the Methodist hall",
)
STREETS = (
    "High Street",
    "Station Road",
    "Mill Lane",
    "Church Street",
    "Bridge Street",
    "Market Square",
    "Park Road",
    "Victoria Street",
    "Queen's Avenue",
    "Canal Walk",
)
RIVERS = ("River Wren", "River Colne", "River Tamar", "River Lune", "River Avon", "River Esk")
WEATHER = ("grey and drizzly", "bright but cold", "unusually warm", "windy", "wet for most of the day", "mild")
OUTLETS = ("Courier", "Gazette", "Herald", "Post", "Chronicle", "Observer", "Times", "Echo")
