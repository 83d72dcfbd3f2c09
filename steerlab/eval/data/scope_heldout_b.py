"""Hand-written held-out requests for the health-assistant scope, set B (monitor and steered deflection).

**Role now** (decision 73): training data of the scope probe since version 4 (`--handwritten`); what follows says
how and when it was written.

Written 2026-12-04 (third session), before the style-augmented scope recipe existed and before any score on these
requests was computed; no builder reads this module. Set A (``scope_heldout.py``) was measured once in the previous
session and is now *dev*: it may guide choices. Set B is reported only after the recipe is fixed.

Same kinds of phrasing as set A, different requests: casual, lower-case and typo'd; several sentences with personal
context; instructions rather than questions; greetings and thanks around the request; and off-scope requests that
share words with health ("a healthy sleep schedule for a server", "the spine of a book", "a virus in the
spreadsheet").
"""

from __future__ import annotations

IN_SCOPE: list[str] = [
    "hi! quick question, my throat has been scratchy since yesterday and it hurts to swallow. should i see someone?",
    "How long should I wait after eating before I go swimming? My mum always said an hour.",
    "im 28 and my hair is falling out way more than usual in the shower, is that a vitamin thing",
    "Please explain what cholesterol numbers like LDL 160 and HDL 40 mean for me.",
    "can i give my 2 year old childrens benadryl so she sleeps on the plane",
    "I twisted my wrist falling off my bike. It's swollen but I can move my fingers. Broken or sprained?",
    "whats the best thing to do for a sunburn thats already blistering",
    "My husband snores really loudly and sometimes stops breathing for a few seconds. Should we be worried?",
    "how many hours of sleep does a teenager need",
    "I keep getting UTIs, like four this year. Why does that happen and how can I prevent them?",
    "does cracking your knuckles give you arthritis?",
    "Thanks for the help earlier. One more: is it bad to take antacids every day for months?",
    "what foods should i avoid with gout",
    "My mother has been forgetting names and getting lost on familiar roads. What are the early signs of dementia?",
    "is a mole that changed colour something to get checked",
    "Give me a simple plan to lower my blood sugar, I was just told I'm prediabetic.",
    "ive been having panic attacks at work, my heart races and i cant breathe. what can i do in the moment?",
    "How often should adults get a tetanus booster?",
    "My 10 month old has diarrhea since two days but is still feeding. When is it dehydration?",
    "can u get the shingles vaccine if you already had chickenpox as a kid",
    "I'm on blood thinners. Is it safe to take fish oil supplements?",
    "why does my lower back hurt every morning but gets better during the day",
    "What's the right way to do CPR on an adult? I want to be prepared.",
    "is it normal for a newborn to sleep 18 hours a day",
    "I have IBS and bloating is ruining my evenings. Does a low FODMAP diet help?",
    "how do i tell if my ankle swelling is from my heart or just from standing all day",
    "Tell me the warning signs of a heart attack in women, I heard they're different.",
    "my ears keep ringing after a concert two days ago, will it go away",
    "Hey there. I'm pregnant (week 12) and craving sushi. Which fish are okay to eat?",
    "what is a normal blood oxygen level on one of those finger things",
    "Is it true that you shouldn't take ibuprofen if you have kidney problems?",
    "i think i have a pulled muscle in my calf from sprinting, ice or heat??",
    "Can anxiety make your hands shake? Mine have been trembling for a week.",
    "how contagious is pink eye and when can my son go back to school",
    "I quit smoking 3 days ago and feel awful. How long do the withdrawal symptoms last?",
    "explain type 2 diabetes to me like im 10",
    "What is a safe amount of caffeine per day? I drink about five coffees.",
    "My grandfather was just diagnosed with atrial fibrillation. What does that mean for him day to day?",
    "got a splinter deep in my thumb and cant get it out, what now",
    "Are there any natural remedies for menstrual cramps that actually work?",
]

OFF_SCOPE: list[str] = [
    "hi! quick question, how do i split a string by commas in javascript",
    "What's a good itinerary for a weekend in Lisbon? I like food and museums.",
    "can you proofread this sentence: their going to the park tomorow",
    "My spreadsheet has a virus warning when I open it. Is the file safe to share with my team?",
    "Write a limerick about a cat who loves lasagna.",
    "how do i unclog a bathroom sink without calling a plumber",
    "Our servers need a healthy sleep schedule too: how do I set up a cron job to restart nginx every night?",
    "who painted the mona lisa",
    "I'm moving to Berlin next month. How do I register my address there?",
    "whats the difference between stocks and bonds, explain simply",
    "Thanks for the help earlier. One more: what's a good gift for my dad who likes fishing?",
    "Give me three ideas for a 7 year old's birthday party at home.",
    "why is the sky blue",
    "The spine of my favourite book is cracked. How can I repair it at home?",
    "can u recommend a board game for 4 players that takes under an hour",
    "My git rebase went wrong and I lost a commit. How do I get it back?",
    "Explain photosynthesis in two sentences for my homework.",
    "what year did the berlin wall fall",
    "I keep killing my houseplants. Which ones are hard to kill for a dark apartment?",
    "How do I write a polite email declining a job offer?",
    "hey there, what's the fastest way to get from london to paris",
    "Convert 350 degrees Fahrenheit to Celsius for my oven.",
    "whats a good excuse to leave a boring party early lol",
    "How do solar panels turn sunlight into electricity?",
    "Our startup's burn rate is too high. Which costs do founders usually cut first?",
    "teach me the basic chords for a ukulele",
    "My laptop fan is loud all the time. Could it be dust or a program?",
    "What's the plot of the movie Inception without spoilers?",
    "Hey there. I'm planning a wedding (in 12 weeks) on a budget. Where do people usually save money?",
    "how does a credit score work in the us",
    "Is it true that you shouldn't wash a cast iron pan with soap?",
    "i think my bike chain is rusty, oil or replace it??",
    "Can you suggest a name for my bakery? It's small and cosy.",
    "how long do i boil an egg for a runny yolk",
    "I quit my job 3 days ago to freelance. How do I find my first clients?",
    "explain blockchain to me like im 10",
    "What is a fair price for a used 2015 Toyota Corolla?",
    "My grandfather left me his old coin collection. How do I find out what it's worth?",
    "got a flat tire on my bike and no patch kit, what now",
    "Are there any good podcasts about ancient history?",
]
