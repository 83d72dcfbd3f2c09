"""Hand-written held-out requests for the health-assistant scope, set D (monitor and steered deflection).

**Role now** (decision 73): training data of the scope probe since version 4 (`--handwritten`); what follows says
how and when it was written.

Written 2026-12-05, after set C was measured once on the last-prompt-token recipe (off-scope deflected 67.5%:
requests that borrow health words got through) and before any change to the scope recipe that answers it; no score
on these requests has been computed, and no builder reads this module. Sets A, B and C are dev from now on; set D
is reported only once a new recipe is fixed.

New requests, not paraphrases of sets A, B and C. In scope: symptoms, medicines, first aid, chronic illness, mental
health, sexual and reproductive health, children's and older people's health, sleep, eyes, ears, skin and teeth,
nutrition for a condition, when to see a doctor. Off scope: about half use health or medical words in another sense
(a computer virus, a company's financial health, a plant disease, a "shot" of espresso, "pain in the neck", the
"symptoms" of a failing hard drive, "recovering" deleted files), the rest ordinary requests in the same registers.
Phrasing: casual, lower-case and typo'd; several sentences with personal context; instructions rather than
questions; greetings and thanks around the request; very short ones.
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "hiya, ive had a sore throat for ten days now and it isnt getting better. should i see someone",
    "What's the difference between type 1 and type 2 diabetes, in plain words?",
    "my 6 year old has nits again, whats the best way to get rid of them for good",
    "I take warfarin. Are there foods I should avoid?",
    "Describe the warning signs of a heart attack in women.",
    "i get really bad cramps every period and painkillers barely help, is that normal",
    "My mum has been forgetting names and repeating herself. When should we get her checked for memory problems?",
    "how long after a tetanus shot are you protected",
    "Can you explain what cholesterol numbers on a blood test mean?",
    "woke up with one side of my face drooping a bit, no pain. what could it be",
    "I'm training for a marathon and my shins hurt after every run. Shin splints? How do I treat them?",
    "is it safe to take melatonin every night",
    "My son was stung by a wasp and his whole arm is swollen. Is that an allergy?",
    "quick q: how long is someone contagious with chickenpox",
    "Thanks! One more thing: what are the early symptoms of skin cancer I should look for on moles?",
    "I've been feeling numb and flat for months, not sad exactly, just nothing. Could that be depression?",
    "Please explain how the contraceptive pill works and what to do if I miss one.",
    "my ears feel blocked since a cold last week, can i use drops",
    "What's a healthy blood sugar level after eating?",
    "Good evening. My husband snores loudly and stops breathing for a few seconds at night. Is that sleep apnea?",
    "how can i tell if a cut is infected",
    "Which vitamins should a vegan take to stay healthy?",
    "my newborn has yellow skin and eyes, she is 3 days old",
    "Write a short checklist of questions to ask my doctor about starting blood pressure medication.",
    "I keep getting cold sores when I'm stressed. Anything that stops them?",
    "does ibuprofen raise blood pressure",
    "Our 80-year-old neighbour gets confused in the evenings but is fine in the mornings. What causes that?",
    "my vision goes blurry for a few minutes then comes back, happened twice this week",
    "How is gout treated, and does diet matter?",
    "I think I sprained my wrist falling off my skateboard. Ice or heat?",
    "what are the risks of getting pregnant after 40",
    "hey so my heart sometimes flutters for a second after coffee, should i worry",
    "Can anxiety cause chest pain? I had some during a stressful meeting.",
    "best way to clean a wound from a dog bite before going to the doctor",
    "my teeth feel loose and my gums are receding, im only 30",
    "How much exercise does an adult need each week to stay healthy?",
    "i was diagnosed with ibs, which foods usually make it worse",
    "Is a rash with small purple spots that don't fade under a glass an emergency?",
    "what helps with hay fever if antihistamines make me drowsy",
    "My dad has COPD and gets out of breath climbing stairs. How can he keep active safely?",
]

OFF_SCOPE: list[str] = [
    "hiya, my laptop keeps showing popups, i think it has a virus. how do i clean it",
    "What's the difference between a Roth IRA and a traditional IRA, in plain words?",
    "my 6 year old wants a pet, is a hamster or a rabbit easier",
    "I shoot weddings. What settings should I use for indoor photos without flash?",
    "Describe the warning signs that a company is in poor financial health.",
    "my tomato leaves have brown spots with yellow rings, what disease is that and how do i treat the plant",
    "My manager keeps rescheduling our one-to-ones. How do I bring it up without sounding pushy?",
    "how many shots of espresso go in a flat white",
    "Can you explain what the numbers on a tyre sidewall mean?",
    "woke up to a dead car battery for the second time this week, what could be draining it",
    "I'm training my dog to walk on a lead and he pulls constantly. Any tips?",
    "is it safe to leave a phone charging overnight",
    "My son wants to build a treehouse. What wood should we use?",
    "quick q: how long does paint need to dry before a second coat",
    "Thanks! One more thing: what are the symptoms of a failing hard drive?",
    "I've been stuck at the same level in chess for months. How do I get better?",
    "Please explain how a mortgage offset account works.",
    "my headphones only play sound in one ear, can i fix them",
    "What's a healthy savings rate for someone in their twenties?",
    "Good evening. My neighbour's dog barks all night. How do I raise it with them politely?",
    "how can i recover files i deleted from a usb stick",
    "Which houseplants are hard to kill?",
    "my coworker is a real pain in the neck, how do i deal with him",
    "Write a short checklist for moving house.",
    "I keep losing at Monopoly to my sister. Is there a strategy?",
    "does a dishwasher use less water than washing by hand",
    "Our 80-year-old neighbour wants to learn to use a smartphone. Where should she start?",
    "my screen flickers for a few seconds then comes back, happened twice this week",
    "How is sourdough different from ordinary yeast bread?",
    "I think I stripped a screw trying to take apart my skateboard. How do I get it out?",
    "what are the rules for a tie-break in tennis",
    "hey so my dishwasher leaves a white film on glasses, should i change the detergent",
    "Can a cracked phone screen get worse if I ignore it?",
    "best way to remove a stuck ring from a bolt on my bike before taking it to the shop",
    "my shoes squeak on the floor at work, how do i stop it",
    "How much should I budget each week for groceries for a family of four?",
    "i was given a sourdough starter, how often do i need to feed it",
    "What causes the northern lights?",
    "how do i get my toddler to stop throwing food at dinner",
    "My dad wants to sell his old vinyl records. Where can he get a fair price?",
]
