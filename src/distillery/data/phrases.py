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

# topic -> (org kinds, projects (noun phrase with "the ..."), topic-specific neutral filler)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "health": (
        ("Health Trust", "Medical Centre", "Community Health Partnership"),
        (
            "the mobile clinic programme",
            "the new community health centre",
            "the free dental care scheme",
            "the mental health helpline",
        ),
        (
            "The clinic building on {street} previously housed a bank.",
            "Appointments can be booked by phone or at the front desk.",
        ),
    ),
    "housing": (
        ("Housing Association", "Tenants' Cooperative", "Homes Partnership"),
        (
            "the affordable housing scheme",
            "the social housing renovation",
            "the tenancy support service",
            "the empty homes project",
        ),
        (
            "The estate was built in the {decade}s on the site of a former brickworks.",
            "Several show flats were open for viewing on {weekday} afternoon.",
        ),
    ),
    "education": (
        ("Schools Trust", "Learning Partnership", "Adult Education Service"),
        (
            "the after-school tutoring programme",
            "the free school meals extension",
            "the adult literacy course",
            "the new nursery places",
        ),
        ("The school's main building dates from {year_hist}.", "Term starts again on the first {weekday} of {month}."),
    ),
    "energy": (
        ("Energy Cooperative", "Power Company", "Climate Partnership"),
        (
            "the community solar project",
            "the home insulation scheme",
            "the district heating network",
            "the energy advice service",
        ),
        (
            "The panels were delivered on lorries along {street} early in the morning.",
            "A display board in the foyer explained how the meters work.",
        ),
    ),
    "water": (
        ("Water Board", "Rivers Trust", "Water Company"),
        (
            "the clean water pipeline",
            "the flood defence upgrade",
            "the well-drilling programme",
            "the sewage treatment upgrade",
        ),
        (
            "The {river} is usually at its lowest in late {month}.",
            "Engineers in hard hats gave a short tour of the pumping station.",
        ),
    ),
    "local government": (
        ("Borough Council", "District Council", "Town Council"),
        (
            "the participatory budget",
            "the new council one-stop shop",
            "the street lighting plan",
            "the neighbourhood plan",
        ),
        (
            "The council chamber was refurbished in {year_hist}.",
            "Councillors broke for ten minutes before the vote on the agenda.",
        ),
    ),
    "science": (
        ("Research Institute", "University Lab", "Science Park"),
        (
            "the malaria vaccine study",
            "the crop research programme",
            "the air quality sensor network",
            "the genome screening project",
        ),
        (
            "The laboratory is on the second floor of a converted warehouse.",
            "Visitors were asked to wear lab coats during the tour.",
        ),
    ),
    "courts": (
        ("Law Centre", "Legal Aid Society", "Justice Network"),
        (
            "the legal aid clinic",
            "the eviction defence service",
            "the new family court procedure",
            "the victims' support desk",
        ),
        (
            "The courthouse on {street} was built in the {decade}s in red sandstone.",
            "Hearings usually begin at ten o'clock and break for lunch at one.",
        ),
    ),
    "community": (
        ("Community Foundation", "Residents' Association", "Volunteer Network"),
        ("the community garden", "the repair cafe", "the summer street festival", "the youth sports league"),
        (
            "The bunting along {street} was put up by volunteers the night before.",
            "A brass band played on the green during the afternoon.",
        ),
    ),
    "business": (
        ("Chamber of Commerce", "Enterprise Agency", "Business Network"),
        (
            "the small business loan fund",
            "the apprenticeship scheme",
            "the high street revival plan",
            "the new cooperative bakery",
        ),
        (
            "The market on {street} has been held every {weekday} since {year_hist}.",
            "Several shop owners closed early to attend the presentation.",
        ),
    ),
    "transport": (
        ("Transport Authority", "Bus Company", "Cycling Trust"),
        (
            "the free bus pass scheme",
            "the new cycle lanes",
            "the rural minibus service",
            "the station accessibility upgrade",
        ),
        (
            "The station clock was restored by a local watchmaker in {year_hist}.",
            "The number {route} bus runs every twenty minutes during the day.",
        ),
    ),
    "food": (
        ("Food Bank", "Food Partnership", "Farmers' Cooperative"),
        ("the community fridge", "the school breakfast club", "the surplus food network", "the allotment expansion"),
        (
            "The warehouse is open from eight until four on weekdays.",
            "Delivery vans are loaded in the yard behind {venue}.",
        ),
    ),
}

LEADS = (
    "Details of {project}, led by {org}, were presented to residents of {place} this week.",
    "Residents of {place} gathered on {weekday} to hear about {project} from representatives of {org}.",
    "{org} has set out how {project} works in {place}, in a briefing held at {venue}.",
    "{place} is the focus of {project}, which is run by {org}.",
    "Representatives of {org} described {project} to a meeting in {place} on {weekday}.",
)
TITLES = (
    "{Project} in {place}: what we know",
    "{place} hears plans for {bare}",
    "{org} outlines {bare}",
    "Inside {place}'s {bare}",
    "A closer look at {bare} in {place}",
    "{place} residents ask about {bare}",
    "{Project} comes under the spotlight in {place}",
    "What {bare} means for {place}",
)
FILLER = (
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
WHEN = (
    "Earlier in the day",
    "Later that afternoon",
    "On {weekday} morning",
    "Before the session began",
    "Afterwards",
    "During the break",
    "At around {time}",
    "The previous evening",
    "Just before {time}",
    "Towards the end of the evening",
    "While the room filled up",
    "Once the speeches were over",
)
WHO = (
    "a group of residents",
    "two council staff",
    "volunteers from {venue}",
    "{person}",
    "the caretaker",
    "a local photographer",
    "several shopkeepers from {street}",
    "a pair of students",
    "{person}'s neighbour",
    "a retired teacher from {place2}",
    "members of the choir",
    "the building's new tenants",
)
DID = (
    "set out chairs in the main hall",
    "walked the route along {street}",
    "discussed the bus timetable",
    "checked the sound system",
    "handed out leaflets about the summer fair",
    "compared notes on the weather",
    "looked through old photographs of {place}",
    "stacked boxes of leaflets by the door",
    "tested the projector",
    "put up a map of {place} on the wall",
    "chatted about the football results",
    "swept the steps outside {venue}",
    "collected coats at the cloakroom",
    "moved tables into the side room",
    "queued for tea in the foyer",
    "argued good-naturedly about where to park",
    "fixed a wobbly table leg",
    "counted the spare programmes",
    "walked over from the bus stop on {street}",
    "found a seat near the back",
    "asked where the nearest cash machine was",
    "took photographs of the old fireplace",
)
QUOTES = (
    "We tried to keep the presentation short",
    "Parking is always the first question people ask",
    "We will send out the dates as soon as they are confirmed",
    "The hall is booked until half past nine",
    "If anyone left a scarf behind, it is at the front desk",
    "We have printed more leaflets for next time",
    "The slides will go up on the noticeboard tomorrow",
    "The bus times changed last month, so do check",
    "We moved the meeting here because the library is being painted",
    "The microphone worked this time",
    "Most people came straight from work, so we kept it brief",
    "There is a lift at the side entrance",
)
CLOSERS = (
    "Further details are available from {org}.",
    "The next public meeting is planned for {month}.",
    "{org} said it would post updates on its website.",
    "Questions can be sent to {org} by email.",
)
