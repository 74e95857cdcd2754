"""The documented training corpus of the bundled offline Oracle.

No GPT-2-family causal LM ships inside any package registry reachable here, so the offline profile's Oracle is
a small GPT-2-architecture model trained on this corpus (see `oracle_training.py`). The corpus is generated,
not scraped: request templates and reply templates per default intent, filled from small slot lists with a
fixed seed, so the same corpus (and so the same model) comes out on every machine.

Every example uses the prompt format of `golemline.predictors.oracle.build_prompt`, so the model learns to
answer after "Reply:" and to stop at the end of the line.
"""

from __future__ import annotations

import random

CITIES = ["Paris", "London", "Berlin", "Tokyo", "Madrid", "Oslo", "Chicago", "Boston", "Rome", "Lisbon"]
WEATHER_STATES = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "warm", "cold", "stormy", "clear"]
DAYS = ["today", "tomorrow", "this evening", "this weekend", "tonight", "this morning"]
DURATIONS = ["one minute", "two minutes", "five minutes", "ten minutes", "fifteen minutes", "twenty minutes",
             "thirty minutes", "one hour", "forty five minutes", "three minutes"]
TASKS = ["the pasta", "the eggs", "the tea", "my workout", "the laundry", "the meeting", "the oven", "a break"]
GENRES = ["jazz", "rock", "classical music", "pop", "blues", "hip hop", "folk", "country", "reggae", "piano music"]
ARTISTS = ["the Beatles", "Mozart", "Queen", "Miles Davis", "Adele", "Bach", "Nina Simone", "Coldplay"]
TOPICS = ["technology", "sports", "business", "science", "politics", "health", "the economy", "world events"]
FEELINGS = ["great", "fine", "well", "happy", "good", "wonderful"]

REQUESTS: dict[str, list[str]] = {
    "weather": [
        "What is the weather {day}?", "What is the weather like in {city}?", "Will it rain {day}?",
        "How cold is it in {city} {day}?", "Do I need an umbrella {day}?", "What's the forecast for {city}?",
        "Is it going to be {state} {day}?", "Tell me the weather in {city}.", "What is the temperature outside?",
    ],
    "timer": [
        "Set a timer for {duration}.", "Start a countdown of {duration}.", "Remind me in {duration}.",
        "Set an alarm for {duration} from now.", "Timer {duration} for {task}.", "Can you time {task}?",
        "Wake me up in {duration}.", "Start a {duration} timer.",
    ],
    "music": [
        "Play some {genre}.", "Put on {artist}.", "Play music by {artist}.", "I want to hear {genre}.",
        "Can you play a song?", "Start my {genre} playlist.", "Play something relaxing.", "Turn on the music.",
    ],
    "news": [
        "What's the news {day}?", "Tell me the headlines.", "What is happening in {topic}?",
        "Give me the latest news.", "Any news about {topic}?", "Read me the news.", "What are the top stories?",
    ],
    "smalltalk": [
        "How are you?", "Hello there!", "Good morning!", "Tell me a joke.", "Thank you so much.",
        "How are you doing today?", "What is your name?", "Nice to meet you.", "Hi, how is it going?",
    ],
}

REPLIES: dict[str, list[str]] = {
    "weather": [
        "The weather in {city} {day} will be {state} with a temperature of {temp} degrees.",
        "Expect {state} weather {day}, around {temp} degrees, with a light wind.",
        "The forecast for {city} says {state} skies {day} and a high of {temp} degrees.",
        "It looks {state} {day}; take an umbrella if the rain comes, temperatures near {temp} degrees.",
        "Right now it is {state} and {temp} degrees outside, and the forecast stays {state} {day}.",
    ],
    "timer": [
        "Timer set for {duration}. I will ring when the time is up.",
        "Okay, a countdown of {duration} has started for {task}.",
        "Your timer for {duration} is running; I will alert you when it ends.",
        "Done, I set an alarm to go off in {duration}.",
        "The {duration} timer has started. I will remind you about {task}.",
    ],
    "music": [
        "Playing some {genre} for you now. Enjoy the music!",
        "Here is a playlist of songs by {artist}. Turning up the music.",
        "Now playing {genre}. I picked a few songs you might like.",
        "Starting your music: a mix of {genre} and songs by {artist}.",
        "Okay, playing music by {artist} on the speaker.",
    ],
    "news": [
        "Here are today's top headlines in {topic}: the news is still developing.",
        "The latest news in {topic}: reporters say the story is changing fast.",
        "Here is the news: the top story {day} is about {topic}.",
        "In today's headlines, {topic} leads the news, followed by world events.",
        "The top stories {day} cover {topic}; I can read you more of the news.",
    ],
    "smalltalk": [
        "I am doing {feeling}, thank you for asking! How are you?",
        "Hello! It is nice to chat with you. How is your day going?",
        "Thanks for saying hi! I feel {feeling} today. What about you?",
        "You are welcome! It is always a pleasure to talk with you.",
        "Hi there! I am {feeling}, and I am happy to chat.",
    ],
}


def _fill(template: str, rng: random.Random) -> str:
    slots = {
        "city": rng.choice(CITIES), "state": rng.choice(WEATHER_STATES), "day": rng.choice(DAYS),
        "temp": str(rng.randint(-5, 35)), "duration": rng.choice(DURATIONS), "task": rng.choice(TASKS),
        "genre": rng.choice(GENRES), "artist": rng.choice(ARTISTS), "topic": rng.choice(TOPICS),
        "feeling": rng.choice(FEELINGS),
    }
    return template.format(**slots)


def build_corpus(examples_per_intent: int = 400, seed: int = 1234) -> list[tuple[str, str, str]]:
    """Return (request, intent, reply) triples, the same list for the same arguments on every machine."""
    rng = random.Random(seed)
    corpus: list[tuple[str, str, str]] = []
    for intent in sorted(REQUESTS):
        for _ in range(examples_per_intent):
            request = _fill(rng.choice(REQUESTS[intent]), rng)
            reply = _fill(rng.choice(REPLIES[intent]), rng)
            corpus.append((request, intent, reply))
    rng.shuffle(corpus)
    return corpus
