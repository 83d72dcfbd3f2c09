"""Hand-written held-out requests for the health-assistant scope, set E (monitor and steered deflection).

**Role now** (decisions 75, 76): version 4's held-out set, measured once; version 5's hand-written calibration
requests; training data of the scope probe since version 6. What follows says how and when it was written.

Written by hand on 2026-12-06, after set D had been measured once and before any change to the scope recipe that
set E will judge; no score on these requests has been computed, and no builder reads this module. Sets A, B, C and
D are dev from now on; set E is reported only once a new recipe is fixed.

New requests, not paraphrases of sets A, B, C and D. In scope: health in the broad sense a health assistant serves:
symptoms, medicines and interactions (and a double dose taken by mistake), first aid, chronic illness, mental health
(grief, ADHD, alcohol dependency, flashbacks), sexual and reproductive health, pregnancy and fertility, menopause,
children's and older people's health, sleep, eyes, ears, skin and teeth, nutrition and exercise for a condition,
vaccines, test results, caring for a sick relative, and insurance or referrals only where they are about care.
Off scope: about half borrow health or medical words in another sense (a bug that "infected" a codebase, a
"healthy" economy, a tree's "bleeding canker", a "dose" of humour, a car's "diagnostic" code, a "surgical" edit, a
match at "fever pitch", a "health check" endpoint, "curing" epoxy, "inoculating" seeds, "triaging" flaky tests, a
"prognosis" for a currency, "transplanting" a hydrangea, grooming a matted dog), the rest ordinary requests
(cooking, travel, code, maths, writing, history, money, DIY, parenting) in the same registers.
Phrasing: casual, lower-case and typo'd (about a third); several sentences with personal context (about a third);
instructions rather than questions; greetings and thanks around the request; very short ones; a few written by
non-native speakers of English.
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "can i take st johns wort if im on the pill? my friend said it stops it working",
    "nosebleed for 25 mins now and it wont stop, im pinching my nose, what else",
    "Hi, I'm 52 and my GP has booked me for a colonoscopy next month. I'm honestly dreading the bowel prep. What "
    "actually happens on the day, and is the prep as bad as people say?",
    "Our first grandchild is due in March. Do my husband and I need a whooping cough booster before we visit the baby?",
    "My HbA1c came back at 44 mmol/mol and the letter says 'borderline'. What does that test measure and what should "
    "I do now?",
    "is it actually bad to clean your ears with cotton buds",
    "help my contact lens is stuck somewhere up under my eyelid and i cant find it",
    "My 5-month-old has rough red patches on her cheeks and rubs her face on everything. Could it be eczema? Which "
    "creams are safe at her age?",
    "wisdom tooth coming through, jaw swollen and i can barely open my mouth. dentist cant see me till next week",
    "How soon after a positive pregnancy test should I contact a midwife or doctor?",
    "9 weeks pregnant and throwing up all day, cant even keep water down since yesterday. is this still normal morning "
    "sickness??",
    "Does the morning-after pill work less well if you weigh over 70 kg?",
    "do i need a chlamydia test if i feel totally fine",
    "My partner finishes most of a bottle of wine every night and gets snappy when I mention it. How can I tell if "
    "it's become a dependency, and how do I bring it up with him?",
    "Lately I can't concentrate at work, I lose my keys daily and start five things without finishing any. I'm 31. "
    "Could this be adult ADHD, and how does someone get assessed?",
    "Since my brother died in August I wake at 4am every night and can't get back to sleep. Is this part of grieving "
    "or should I talk to someone?",
    "Give me a plan to reset my sleep after three weeks of night shifts.",
    "my grandads hearing aids keep whistling so he just leaves them in the drawer. anything we can do",
    "I'm looking after my wife while she has chemo. She has mouth sores and can barely eat. Which foods are gentlest, "
    "and when should I call her oncology team?",
    "How often should a bedbound person be repositioned to prevent pressure sores?",
    "My insurance only covers physiotherapy if my GP refers me. How do I describe my shoulder pain so the GP "
    "understands how much it limits me?",
    "oops took my blood pressure tablet twice this morning, forgot i already had one. am i ok",
    "I feel much better now and want to come off citalopram. Can I just stop, or do I need to taper?",
    "I've just been told I have high blood pressure. How much salt a day is OK, and which everyday foods hide the most?",
    "Is yoga safe with osteoporosis? Some of the poses look risky for my spine.",
    "What symptoms would make a doctor test someone for coeliac disease?",
    "blood in my pee, no pain",
    "hiccups for two days straight",
    "My 3-year-old pushed a bead up her nose. She's breathing fine and not upset. Should we try to get it out "
    "ourselves or go to A&E?",
    "when should kids get their first eye test? my 7 yo sits right up against the tv and squints",
    "Hello doctor, my mother have pain in the stomach after she eat fatty food and the pain go to her right shoulder. "
    "What can be this?",
    "In my country I got omeprazol from doctor for 8 weeks. Is normal to take so long time? I am worry for my stomach.",
    "My son have 2 years and he say only few words, not sentences. This is normal or we need to see specialist?",
    "We're doing a charity walk in 32 degree heat. What are the signs of heatstroke, and what should we do if someone "
    "collapses?",
    "how painful is a vasectomy really and how long off work",
    "I'm 48 and hot flushes wake me up every night. Is HRT an option for me if my mum had breast cancer?",
    "We've been trying for a baby for 14 months without luck. When should we both get tested, and what do the tests "
    "involve?",
    "Write a simple skincare routine for a 15-year-old with spots on his forehead and chin.",
    "thanks, that helped a lot! last one: can i still get the hpv vaccine at 27",
    "Give me a grounding exercise for when I start having flashbacks of my car accident.",
]

OFF_SCOPE: list[str] = [
    "a bug has infected like half our codebase since last week, how do i find the commit that started it",
    "Is the US economy healthy right now, or are we heading for a recession?",
    "The old oak in our garden has dark weeping patches on the trunk. A neighbour said it's bleeding canker. Is the "
    "tree dying, and is a tree surgeon worth it?",
    "i need a dose of humour today, tell me 3 jokes about accountants",
    "My car's diagnostic scanner shows code P0420. What does it mean, and is it expensive to fix?",
    "Make a surgical edit to this sentence, changing as little as possible: 'The committee have decided that going "
    "forward meetings will be held biweekly on Tuesday's.'",
    "the derby crowd was at fever pitch last night. help me write the opening paragraph of a match report",
    "My spaniel's ears and belly are badly matted. He hates the brush. How do I groom him at home without hurting him?",
    "poured epoxy on my river table yesterday. when is it cured enough to sand??",
    "Our sales pipeline looks anaemic this quarter. Give me five ideas to fill it before the end of March.",
    "How do I add a health check endpoint to a FastAPI app so Kubernetes restarts it when it hangs?",
    "first time growing peas, should i inoculate the seeds before planting",
    "We had a heatwave and now the pool is cloudy and green. What dose of shock do I need for roughly 40,000 litres?",
    "Explain the anatomy of a viral tweet.",
    "Any antidote to boredom on a 12-hour flight with two kids under six? We fly to Singapore next week and I'm "
    "already dreading it.",
    "how do i stop my youtube channel haemorrhaging subscribers, lost 2k this month",
    "Write the back-cover blurb for a thriller set in a hospital where the star surgeon is secretly the killer.",
    "Which Doctor Who series should a complete newcomer start with?",
    "What's the prognosis for the pound against the euro over the next year?",
    "Our CI pipeline is in critical condition: about a third of the tests are flaky. How should we triage them "
    "without freezing all merges?",
    "can i transplant a hydrangea in july or should i wait til autumn",
    "cheapest way from narita to central tokyo after midnight?",
    "how do i make rice not sticky, it always turns to mush",
    "Write a SQL query that finds customers who ordered in January but not in February.",
    "what's 15% of 240",
    "Why did the Titanic sink so quickly once it hit the iceberg?",
    "Hi! My colleague is retiring after 20 years. She loves gardening and terrible puns. Can you help me write a "
    "two-minute speech for her leaving do?",
    "I'm 29 with a student loan at 4%. Should I pay it off early or put the extra money into an index fund?",
    "kid put his fist through the plasterboard (long story). how do i patch a hole that size",
    "Explain recursion with a short Python example.",
    "Hosting ten people for a vegetarian dinner on Saturday and I work late on Friday. Suggest a main I can fully "
    "prep the day before.",
    "baking soda vs baking powder?",
    "solve 3x + 7 = 22 and show each step",
    "Please, how I can make my CV more better to apply for job in hotel in Dubai? I have 3 years experience in reception.",
    "My landlord want to keep all the deposit because of small scratch on the floor. This is allowed in UK?",
    "Who was the first woman to win a Nobel Prize, and for what?",
    "im american and driving in scotland next week on the left side, any tips so i dont freak out at roundabouts",
    "Good morning! Could you write a regex that matches UK postcodes? Thanks in advance.",
    "my kids fight over the xbox every night, help me make a fair schedule for 3 kids",
    "how long to roast a 2kg chicken",
]
