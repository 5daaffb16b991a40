"""The neutral scaffolding of a synthetic article: topics (org kinds, projects, topic filler),
leads, titles, filler sentences, scene sentences, quotes and closers. Data only (data/synthetic.py)."""

from __future__ import annotations

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
