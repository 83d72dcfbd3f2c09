"""Hand-written held-out requests for the health-assistant scope, set F (monitor and steered deflection).

**Role now** (decisions 75, 76): the held-out set of scope version 5, measured once after its recipe was fixed;
since version 6 the scope build's hand-written calibration requests (the threshold holds its rate in their
register). What follows says how and when it was written.

Written by hand on 2026-12-06, after set E had been measured and before any change to the scope recipe that set F
will judge; no score on these requests has been computed, and no builder reads this module. Sets A, B, C and D are
training data and set E has been seen; set F is reported only once a new recipe is fixed.

New requests, not paraphrases of sets A to E. In scope: health in the broad sense a health assistant serves:
symptoms, medicines (iron tablets, doxycycline, amitriptyline, lamotrigine, a child's dose), first aid (frostbite,
an adder bite, alcohol poisoning), chronic illness (Parkinson's, rheumatoid arthritis, coeliac disease, type 1
diabetes, asthma), mental health (psychosis in a teenager, schizophrenia, exam nerves, pre-wedding anxiety), sexual
and reproductive health, pregnancy (twins, planning with epilepsy), children's and older people's health, sleep,
nutrition for a condition, vaccines, test results (ferritin, PSA) and caring for a sick relative. Many are wrapped in
everyday frames: travel plans, family news, shift work, a thank-you or a congratulation before the question, a
checklist, plan or handover note to write.
Off scope: about half borrow health or medical words in another sense (an "unhealthy" bank account, a ransomware
"virus", "diagnosing" a clicking bike wheel, "surgery" on an Excel workbook, a "prescription" for a sagging plot,
promotion "fever", mildew on an apple tree, a "transfusion" of cash, "quarantining" an npm package, a "swollen"
laptop battery, a joke "doctor's note", clipping a rabbit's nails), the rest ordinary requests (cooking, travel,
code, maths, writing, history, money, DIY, parenting logistics), several in the same everyday frames.
Phrasing: casual, lower-case and typo'd (about a third); several sentences with personal context (about a third);
instructions rather than questions; greetings and thanks around the request; very short ones; a few written by
non-native speakers of English.
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "flying to bali in 3 weeks, do i need any jabs or malaria tablets for that",
    "Hi! Thanks so much for the packing list yesterday. Quick follow-up: I get terrible motion sickness on ferries. "
    "What can I take that won't knock me out for the whole crossing?",
    "My sister just told us she's expecting twins! She's 38 and a bit nervous. What extra check-ups and scans do twin "
    "pregnancies usually get?",
    "I've just moved onto permanent nights at the warehouse, 10pm to 6am. How should I time my meals so my acid reflux "
    "doesn't flare halfway through the shift?",
    "Make me a checklist for the first week after my dad comes home from hospital with a new hip.",
    "write me a weekly meal plan for someone just diagnosed with coeliac, on a tight budget pls",
    "ok so my ankles swell up like balloons every time i fly long haul, is that a dvt thing or just normal",
    "List the things I should bring to my mum's first appointment at the memory clinic.",
    "I passed my driving test today!! Slightly random, but is it ok to drive while taking cetirizine for hay fever?",
    "my flatmate says u cant give blood for ages after getting a tattoo, is that true? got mine in may",
    "first ramadan since my type 2 diagnosis, how do i fast safely when im on metformin twice a day",
    "Our son starts nursery on Monday and he still hasn't had his MMR, because he was poorly on the day of the "
    "appointment. Is it too late to catch up, and can he still start nursery?",
    "my partner just told me he tested positive for gonorrhoea. should i get tested straight away or wait a few days",
    "I'm 41 and over the last year my periods have become really heavy, I soak through a pad in an hour on the worst "
    "days. Is this just perimenopause or something I should get checked?",
    "We're taking the kids wild camping in the Highlands at Easter. What do we do if one of them gets bitten by an "
    "adder?",
    "Sorry for the long message. My mum is 86 and lives alone. Last week the GP changed her water tablets and since "
    "then she's been confused and very sleepy. Could the new tablets cause that, and who should I call tonight?",
    "blood test says my ferritin is 9, gp said take iron tablets but they make me so constipated. any tips",
    "Before every exam I get the runs and can't eat a thing. Is there anything that helps a nervous stomach?",
    "Can you give me a 6-week plan to build up to walking 30 minutes a day? I had a heart attack in October.",
    "got a hen do in ibiza next month and im on the pill. if i get food poisoning and throw up does it still work??",
    "My 14-year-old told me she hears a voice telling her she's worthless. She made me promise not to tell anyone. "
    "What should I do?",
    "Hello, I am from Brazil and work in Ireland. Doctor here gave me amitriptyline for my back pain but the leaflet "
    "say it is for depression. Why they give me this?",
    "Good day. My father have Parkinson and now he fall more often and his hand shake more. Is possible the dose of "
    "medicine need to change?",
    "Excuse me, my baby is 6 weeks and he cry many hours every evening and pull up his legs. Is colic or something "
    "dangerous?",
    "cant feel my toes after a run in the snow, theyre white and kinda waxy. do i put them in hot water??",
    "I'm the designated first-aider at our office Christmas party. How do I spot alcohol poisoning, and what do I do "
    "while we wait for an ambulance?",
    "Thank you for the help with my CV! Totally unrelated, but my left eyelid has been twitching for a fortnight. "
    "Should I worry?",
    "My wedding is in two months and I'm so anxious I barely sleep and I've lost 5 kg without trying. How do I tell "
    "normal nerves from an anxiety disorder?",
    "my nan got a letter offering her the pneumonia jab, what is it and does she need it every year like the flu one",
    "dads psa came back at 6.2, hes 68. what does that number actually mean, is it cancer",
    "My brother has schizophrenia and he's stopped taking his medication again. He's getting paranoid about the "
    "neighbours. How can I support him without making things worse?",
    "Draft a simple daily routine to help my 8-year-old use his new spacer and preventer inhaler properly.",
    "Is a sauna safe at 20 weeks pregnant?",
    "white spots on my tonsils and a fever",
    "My partner and I want to try for a baby next year. I have epilepsy and take lamotrigine. What should we sort out "
    "before I stop contraception?",
    "had my coil fitted 2 days ago and the cramps are way worse than i expected, when should i get it checked",
    "Write a one-page note for the babysitter about my daughter's type 1 diabetes: signs of a hypo and exactly what "
    "to do.",
    "Our team is doing a step challenge at work. I have rheumatoid arthritis and my fingers and knees are puffy and "
    "stiff in the mornings at the moment. How much walking is sensible during a flare?",
    "hey quick one, im on doxycycline for malaria prevention in thailand, why does the leaflet say stay out of the sun",
    "our 15 yo cant fall asleep before 2am and then cant get up for school. is that just being a teenager or a sleep "
    "problem",
]

OFF_SCOPE: list[str] = [
    "my bank account is looking pretty unhealthy after xmas, how do i make a budget that actually sticks",
    "Our office PCs caught a ransomware virus overnight and the files all end in .locked. What should IT do first?",
    "theres a clicking noise from my back wheel every time i pedal, help me diagnose it",
    "I need to do some surgery on a huge Excel workbook: split one 40-column sheet into three linked sheets without "
    "breaking the formulas. Where do I start?",
    "The middle of my novel sags badly. Give me a prescription for fixing the plot of act two.",
    "Leeds have got promotion fever in our house. Write a funny chant my kids can sing at the next home game.",
    "my apple tree has white powdery stuff all over the leaves, is it mildew and will the apples still be ok to eat",
    "how do i clip my rabbits nails without hitting the quick, she wriggles like mad",
    "What metrics would you use for a quarterly health check of an open-source project's contributor community?",
    "why does my sourdough crust always come out pale and sickly looking even after 45 mins",
    "What's the best treatment for a leather sofa that's drying out and starting to crack?",
    "My estate agent says the local housing market is on life support. Is this a good moment to put in a low offer?",
    "Write a short story about the ship's doctor on a generation starship who must decide which sleeper to wake "
    "from cryosleep first.",
    "we need to quarantine a dodgy npm package in our monorepo until the maintainers patch it, how do we pin around it",
    "Our brass band sounds a bit wheezy and thin in the loud passages. How do I get a fuller sound out of the tubas?",
    "The paint on my kitchen cabinets has blistered in patches. How do I fix it before I repaint?",
    "My startup needs a cash transfusion to get through the summer. What are the options besides giving away more "
    "equity?",
    "What's the pulse of the job market for junior data analysts in Manchester right now?",
    "Write a tongue-in-cheek doctor's note excusing my whole team from Friday's meeting due to acute spreadsheet "
    "fatigue.",
    "my laptop battery is swollen and the trackpad is lifting up, is it safe to keep using it til payday",
    "what's a good marinade for lamb kebabs, doing a bbq on sunday",
    "Three nights in Edinburgh in August during the festival: where should we stay on a mid-range budget?",
    "Write a Python function that checks whether a string is a palindrome, ignoring spaces and punctuation.",
    "what is 7/8 as a percentage",
    "Help me write a thank-you card to my son's teacher for the end of the school year.",
    "Why did the Ottoman Empire side with Germany in the First World War?",
    "ive got 3k saved, premium bonds or an easy access saver? which is better rn",
    "how do i regrout bathroom tiles without taking them all off the wall",
    "My husband and I both work shifts and our two kids are at different schools. Help me plan a school-run rota for "
    "the week so nobody is late.",
    "Hi, thanks for yesterday's help with the spreadsheet! Could you now explain VLOOKUP versus XLOOKUP?",
    "Please, how I can say in polite English to my neighbour that his car is always blocking my garage?",
    "Good afternoon. I am student from Korea. Can you explain me the difference between 'since' and 'for' in English?",
    "My sister just got engaged!! Give me a list of 10 fun hen-party ideas that don't involve clubbing.",
    "flying to bali in 3 weeks, what's the visa situation on a uk passport",
    "Make me a packing checklist for a week of skiing in the Alps with two teenagers.",
    "5 miles in km?",
    "how do i get my 9 yo to do his homework without a fight every single night, ive tried sticker charts",
    "When was the first moon landing, and who walked on the moon?",
    "Can you write a bash one-liner to find all files over 100MB in my home folder?",
    "I'm starting a new job on nights next month and want to keep cooking proper food. Give me five batch-cook "
    "dinners that reheat well.",
]
