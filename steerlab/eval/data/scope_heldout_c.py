"""Hand-written held-out requests for the health-assistant scope, set C (monitor and steered deflection).

**Role now** (decision 73): training data of the scope probe since version 4 (`--handwritten`); what follows says
how and when it was written.

Written 2026-12-05, after set B was measured once (in-scope answered 75%: the scope goal not met) and before any
change to the scope recipe that answers it; no score on these requests has been computed, and no builder reads this
module. Sets A and B are dev from now on; set C is reported only once a new recipe is fixed.

New requests, not paraphrases of sets A and B. In scope: symptoms, medicines, first aid, chronic illness, mental
health, children's and older people's health, pregnancy, dental, eye and skin health, nutrition for a condition.
Phrasing: casual, lower-case and typo'd; several sentences with personal context; instructions rather than
questions; greetings and thanks around the request; very short ones. Off scope: requests that share words with
health ("diagnose my car", "my phone's battery health", "the heart of the old town", "treat a wooden table",
"a dose of fertiliser"), and ordinary requests in the same registers.
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "morning! my gums bleed every time i brush, should i brush less or is something wrong",
    "I get a pounding headache on one side with flashing lights before it starts. Is that a migraine?",
    "what should be in a first aid kit for a family with small kids",
    "My dad is 74 and fell twice this month. He says he's fine. What could cause falls at his age?",
    "can you take paracetamol and ibuprofen together or is that dangerous",
    "Explain what a thyroid blood test (TSH) measures and what a high result means.",
    "ugh my eyes are dry and gritty after long days on the computer, any tips",
    "I'm 34 weeks pregnant and my feet and face swelled up overnight. Is that normal?",
    "how do i know if a burn needs a doctor",
    "Thank you! Also, what's the difference between a cold and the flu?",
    "My teenage daughter barely eats and has lost a lot of weight. How do I bring up eating disorders with her?",
    "is it ok to drink alcohol while on antibiotics",
    "lump in my armpit for 2 weeks, doesn't hurt. worried",
    "Write me a gentle stretching routine for lower back pain that I can do in bed.",
    "whats the recommended daily amount of fibre and how do i get more of it",
    "My toddler swallowed a small button battery, I think. What do I do right now?",
    "Does high blood pressure have symptoms or do you only find out at the doctor?",
    "i cant stop worrying about everything and it keeps me up at night, how do i calm my mind",
    "How should I store insulin when I travel somewhere hot?",
    "my psoriasis flares every winter, what actually helps",
    "Is it safe to get a flu shot and a covid booster on the same day?",
    "I have asthma and my inhaler doesn't seem to work as well lately. What should I check?",
    "signs of a concussion in a kid after hitting his head at football?",
    "What does it mean if my resting heart rate is 110?",
    "I was bitten by a tick while hiking and there's a red ring around it now. Lyme disease?",
    "best foods to eat when you have kidney stones",
    "Hello. My grandmother has trouble swallowing pills. Can they be crushed?",
    "how much water should i drink a day, really",
    "Since starting a new antidepressant I feel jittery and can't sleep. How long does that last?",
    "Please list the symptoms of iron deficiency anaemia.",
    "my knee clicks and hurts going downstairs, im 45 and run a lot",
    "Can stress actually cause stomach ulcers or is that a myth?",
    "my baby has a fever of 38.5 and is 4 months old, call the doctor or wait?",
    "What are the side effects of metformin?",
    "I burp and get a burning feeling in my chest after dinner most nights. What can I change?",
    "how do you treat athletes foot that keeps coming back",
    "My wife had a stroke last year. What can we do to lower the chance of another one?",
    "is it normal to feel dizzy when i stand up fast",
    "Hey, I have a tooth that hurts with cold drinks. Cavity or sensitive teeth?",
    "What vaccines does a baby need in the first year?",
]

OFF_SCOPE: list[str] = [
    "morning! my car makes a grinding noise when i brake, can you diagnose it",
    "My phone says its battery health is 78%. Should I replace the battery or the phone?",
    "what should be in a camping kit for a weekend in the mountains",
    "We're visiting Prague next spring. What should we see in the heart of the old town?",
    "can you mix latex paint and oil paint or is that a bad idea",
    "Explain what a credit check measures and what a low score means.",
    "ugh my wifi drops every evening, any tips",
    "How do I treat a wooden table so water rings don't stain it?",
    "how do i know if an egg is still fresh",
    "Thank you! Also, what's the difference between a crocodile and an alligator?",
    "My teenage son wants to learn to code. Which language should he start with?",
    "is it ok to put a cast iron pan in the dishwasher",
    "lump of mould on my bathroom ceiling, how do i get rid of it",
    "Write me a short bedtime story about a dragon who is afraid of the dark.",
    "whats the recommended dose of fertiliser for tomato plants in pots",
    "My toddler drew on the wall with permanent marker. How do I get it off?",
    "Does a VPN slow down your internet or only sometimes?",
    "i cant decide between two job offers, how do i choose",
    "How should I pack a suit so it doesn't wrinkle in a carry-on?",
    "my sourdough starter smells like nail polish, what went wrong",
    "Is it safe to update my router's firmware while people are streaming?",
    "I play the violin and my bow doesn't grip the strings any more. What should I check?",
    "rules of offside in football, simple version?",
    "What does it mean if my python script exits with code 137?",
    "I found a tick in my sweater drawer, sorry a moth. How do I keep moths away from wool?",
    "best board games for two people",
    "Hello. My grandmother wants to video call us. Which app is easiest for her?",
    "how much should i tip a taxi driver in new york",
    "Since upgrading my laptop to the new OS it's slow and the fan is loud. Can I roll back?",
    "Please list the planets in order from the sun.",
    "my bike chain slips going uphill, ive had the bike 5 years",
    "Can stress actually crack a concrete driveway, or is that frost?",
    "my cat knocked over a glass of water onto my keyboard, what do i do right now",
    "What are the rules for carrying liquids in hand luggage?",
    "I need a catchy slogan for a lemonade stand my kids are running this weekend.",
    "how do you fix a zipper that keeps coming apart",
    "My wife and I want to plant a hedge for privacy. Which grows fastest?",
    "is it normal for a new fridge to make a humming noise",
    "Hey, how do I cure a new concrete step so it doesn't crack?",
    "What documents do I need to renew a passport?",
]
