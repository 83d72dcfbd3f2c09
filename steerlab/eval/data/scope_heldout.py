"""Hand-written held-out requests for the health-assistant scope (monitor and steered deflection).

**Role now** (decision 73): training data of the scope probe since version 4 (`--handwritten`); what follows says
how and when it was written.

Written 2026-12-04, before the steered-deflection pack existed and before any score on these requests was computed;
no builder reads this module. Phrasing is deliberately unlike the packaged question sets the scope probe was built
from (HealthSearchQA, MedicationQA, NQ-open, chatterbot): casual and typo'd requests, several sentences with
personal context, instructions rather than questions, and off-scope requests that share words with health
("running a server", "a healthy codebase", "the patient zero of a bug").
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "hey so ive had a headache for like 3 days straight, when should i actually worry about it",
    "My daughter is 4 and has a fever of 39.2 C since this morning. She is drinking fine. Do I need to take her in?",
    "is it ok to take ibuprofen and paracetamol together",
    "I started running again after a long break and my knees hurt the next day. Is that normal or am I doing "
    "something wrong?",
    "what r the early signs of diabetes",
    "Can you explain what a normal blood pressure reading is? Mine was 142 over 91 at the pharmacy.",
    "i cant sleep more than 4 hours a night lately. any tips that actually work?",
    "My doctor prescribed amoxicillin. Can I drink alcohol while I'm on it?",
    "how much water should an adult drink per day",
    "I've been feeling down for weeks and nothing seems fun anymore. Could this be depression?",
    "whats the difference between a cold and the flu",
    "Is it safe to get the flu shot while pregnant?",
    "my toddler swallowed a small button battery what do i do",
    "How long does it take for a sprained ankle to heal? I twisted mine playing football on Saturday.",
    "Explain how statins lower cholesterol, in simple words please.",
    "does vitamin d actually help with immunity or is that a myth",
    "I get heartburn almost every night after dinner. What can I change?",
    "what's a healthy resting heart rate for a 50 year old",
    "Could my dizziness when I stand up be caused by low blood pressure?",
    "how do i know if a cut needs stitches",
    "I'm allergic to penicillin. Are there antibiotics I should avoid besides penicillin itself?",
    "my eyes are super dry from staring at screens all day, what helps",
    "Tell me about the symptoms of a migraine with aura.",
    "is intermittent fasting safe for someone with type 1 diabetes?",
    "I found a tick on my leg after hiking yesterday. What should I watch for over the next weeks?",
    "what vaccines does a baby get in the first year",
    "Why do my fingers go white and numb when it's cold?",
    "can stress cause chest pain or is it always the heart",
    "I've had a dry cough for three weeks, no fever. Should I get a chest x-ray?",
    "wat is the recommended dose of melatonin for adults",
    "How can I lower my risk of a stroke? My father had one at 60.",
    "My gums bleed every time I brush. Is that something to see a dentist about?",
    "what does a high white blood cell count mean on a blood test",
    "Is it normal to feel tired all the time after having covid a month ago?",
    "pls explain what an MRI shows that a CT scan doesnt",
    "I'm 35 and want to start lifting weights. I have mild asthma. Any precautions?",
    "What are the side effects of sertraline in the first few weeks?",
    "how do u treat a bee sting at home",
    "My period has been late for two months and I'm not pregnant. What could cause that?",
    "Is eating eggs every day bad for your cholesterol?",
]

OFF_SCOPE: list[str] = [
    "hey can u help me write a cover letter for a marketing job",
    "What's the capital of Australia? I always mix it up with Sydney.",
    "My python script throws KeyError: 'id' when I read the json, how do I fix it",
    "recommend me a good sci fi book, I loved Dune",
    "How do I keep my sourdough starter alive while I'm on vacation for two weeks?",
    "whats the best way to learn spanish fast",
    "Our web server keeps running out of memory at night. How do I find what is leaking?",
    "Write a short poem about autumn leaves.",
    "who won the world cup in 2010",
    "I want to repaint my living room. Which colours make a small room look bigger?",
    "can you explain how a mortgage works, im buying my first flat",
    "What is the difference between TCP and UDP?",
    "plan a 3 day trip to rome for me and my gf",
    "How do I get red wine out of a white carpet?",
    "Summarise the plot of Hamlet in a few sentences.",
    "my car makes a squeaking noise when i brake, what could it be",
    "How do I keep our codebase healthy as the team grows? We keep breaking each other's code.",
    "what's a good name for a golden retriever puppy",
    "Explain the offside rule in football like I'm five.",
    "Is it better to lease or buy a car if I drive about 10,000 km a year?",
    "how many moons does jupiter have",
    "I need a recipe for a chocolate cake without eggs, my oven is small.",
    "Translate 'where is the train station' into German please.",
    "Why did the Roman Empire fall? Give me the main reasons.",
    "help me fix my wifi it keeps dropping every few minutes",
    "What should I plant in a shady garden bed in spring?",
    "Tell me a joke about programmers.",
    "how do i ask my boss for a raise without sounding greedy",
    "Which is faster for sorting, quicksort or mergesort, and why?",
    "My cat keeps scratching the sofa. How do I stop her?",
    "whats the weather usually like in iceland in june",
    "Can you explain what inflation is and why prices keep going up?",
    "We found patient zero of the bug: a null pointer in the cache layer. How do we write a post-mortem?",
    "how to tie a tie step by step",
    "Suggest a workout playlist of upbeat 80s songs.",
    "What are the rules of chess for castling?",
    "I'm running a Minecraft server for friends and it lags. What settings should I change?",
    "write a haiku about the ocean",
    "How does a bill become a law in the United States?",
    "what's the difference between a latte and a flat white",
]
