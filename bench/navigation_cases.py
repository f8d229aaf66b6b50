"""The scripted lineages and phrasings of bench/navigation.py (its cases and controls),
and how a lineage is built in a store; bench/navigation_chat.py sends the same cases
through the chat."""

from __future__ import annotations

import io
from dataclasses import dataclass

# The park: upload; "make the bench red"; "add a dog next to him"; "make it snowy" (two
# steps); back to the red bench: "put a red umbrella in his hand", "give him a straw
# hat"; back to the dog: "add a black hat", "make it sunny"; then a second upload (a cat)
# with one edit. Each entry: label, parent label (None: an upload), caption, and for
# edits (request, [(instruction, focus words)]) with one caption per step.
PARK = [
    ("U", None, "a man sitting on a brown bench in a park", None),
    ("A", "U", ["a man sitting on a red bench in a park"],
     ("make the bench red", [("Make the bench red", ["red", "bench"])])),
    ("B", "A", ["a man sitting on a red bench in a park, with a dog next to him"],
     ("add a dog next to him", [("Add a dog next to him", ["dog"])])),
    ("C1 C2", "B", [("a man sitting on a red bench in a park, with a dog next to him, covered "
                    "in snow, winter"),
                    ("a man sitting on a red bench in a park, with a dog next to him, covered "
                    "in snow, winter, with falling snowflakes in cold winter light")],
     ("make it snowy", [("Cover the ground with snow", ["snow", "winter"]),
                        ("Add falling snowflakes and a cold winter light",
                         ["snowflakes", "winter"])])),
    ("D", "A", ["a man sitting on a red bench in a park, with a red umbrella in his hand"],
     ("put a red umbrella in his hand", [("Put a red umbrella in his hand", ["red", "umbrella"])])),
    ("E", "D", [("a man sitting on a red bench in a park, with a red umbrella in his hand, "
                "wearing a straw hat")],
     ("give him a straw hat", [("Give him a straw hat", ["straw", "hat"])])),
    ("F", "B", [("a man sitting on a red bench in a park, with a dog next to him, wearing a "
                "black hat")],
     ("add a black hat", [("Add a black hat", ["black", "hat"])])),
    ("G", "F", [("a man sitting on a red bench in a park, with a dog next to him, wearing a "
                "black hat, on a sunny day")],
     ("make it sunny", [("Make it sunny", ["sunny"])])),
    ("K", None, "a cat sleeping on a sofa", None),
    ("K1", "K", ["a cat sleeping on a green sofa"],
     ("make the sofa green", [("Make the sofa green", ["green", "sofa"])])),
]

# The shapes: two branches from "make the circle blue", one with a two-step vintage look.
SHAPES = [
    ("V", None, ("a red circle on the left and a blue square on the right, on a green "
                "background"), None),
    ("Q1", "V", [("a blue circle on the left and a blue square on the right, on a green "
                 "background")],
     ("make the circle blue", [("Make the circle blue", ["blue", "circle"])])),
    ("Q2", "Q1", [("a blue circle on the left, a blue square on the right and a yellow triangle "
                  "at the top, on a green background")],
     ("add a yellow triangle at the top", [("Add a yellow triangle at the top",
                                            ["yellow", "triangle"])])),
    ("Q3", "Q1", [("a blue circle on the left and a red square on the right, on a green "
                  "background")],
     ("make the square red", [("Make the square red", ["red", "square"])])),
    ("Q4a Q4b", "Q3", [("a blue circle on the left and a red square on the right, on a green "
                       "background, in faded warm film colours"),
                       ("a blue circle on the left and a red square on the right, on a green "
                       "background, in faded warm film colours, with film grain and a soft "
                       "vignette, vintage photograph")],
     ("make it more vintage", [("Give it faded, warm film colours", ["faded", "warm"]),
                               ("Add film grain and a soft vignette like an old photograph",
                                ["grain", "vintage"])])),
]

# (lineage, head, message, expected: label | "ask" | "none", the edit that follows or None)
# Thirteen labels changed with the reading of bench/language/README.md: "undo" takes back
# the whole last request (C1 C2 of "make it snowy" together), "back one" one image;
# "the Nth version" / "version N" count images in the order made, the upload first
# (they were: one image per undo, and turn N of the current branch, which "turn N" and
# "#N" still are).
CASES: list[tuple[str, str, str, str, str | None]] = [
    # the scripted chat and its kin: before the dog
    ("park", "C2", "hmm, can we return to the version before you added the dog?", "A", None),
    ("park", "C2", "go back to before the dog", "A", None),
    ("park", "C2", "before the dog please", "A", None),
    ("park", "C2", "can we go back to before the dog was added?", "A", None),
    ("park", "C2", "take me back to how it was before the dog", "A", None),
    ("park", "C2", "I liked it better without the dog", "A", None),
    ("park", "C2", "the version before you put the dog in", "A", None),
    ("park", "C2", "undo the dog", "A", None),
    ("park", "C2", "actually, I'd prefer the one before the dog showed up", "A", None),
    ("park", "C2", "could you take us back to before the puppy?", "A", None),
    ("park", "C2", "the image from before the dog", "A", None),
    ("park", "C2", "back to the pic without the dog", "A", None),
    ("park", "C2", "please restore the version prior to adding the dog", "A", None),
    ("park", "C2", "roll back to before the dog", "A", None),
    ("park", "C2", "let's return to where we were before the dog", "A", None),
    ("park", "C2", "the one right before the dog", "A", None),
    ("park", "C2", "can you show me the version before the dog again?", "A", None),
    ("park", "C2", "go back to before you added the dog next to him", "A", None),
    ("park", "C2", "I miss the version without the dog", "A", None),
    ("park", "G", "revert the dog", "A", None),
    # before the snow
    ("park", "C2", "before the snow", "B", None),
    ("park", "C2", "go back to before it was snowy", "B", None),
    ("park", "C2", "can we undo the snow?", "B", None),
    ("park", "C2", "hmm, maybe go back to before it snowed", "B", None),
    ("park", "C2", "I preferred it before the winter look", "B", None),
    ("park", "C2", "back to the one without snow", "B", None),
    ("park", "C2", "I think the one before the snow was better", "B", None),
    ("park", "C2", "hmm, maybe return to before the snow?", "B", None),
    ("park", "C2", "go back to just before the snow", "B", None),
    ("park", "C2", "can we see it before it started snowing?", "B", None),
    ("park", "C2", "before the snowflakes", "C1", None),
    ("park", "C2", "it looked better before you made it wintry", "B", None),
    ("park", "G", "go back to before the snow", "B", None),
    # the bench, the upload
    ("park", "C2", "the one where the bench was still brown", "U", None),
    ("park", "C2", "go back to when the bench was brown", "U", None),
    ("park", "C2", "before the bench was red", "U", None),
    ("park", "C2", "before you painted the bench", "U", None),
    ("park", "C2", "back to the brown bench", "U", None),
    ("park", "C2", "can I see the original again?", "U", None),
    ("park", "C2", "the version I uploaded", "U", None),
    ("park", "C2", "back to the photo I uploaded", "U", None),
    ("park", "C2", "go back to my upload", "U", None),
    ("park", "C2", "start over from the original photo", "U", None),
    ("park", "C2", "how it looked at the start", "U", None),
    ("park", "C2", "the very first version", "U", None),
    ("park", "E", "I want the one where the bench was still brown", "U", None),
    # counted back
    ("park", "C2", "two edits ago", "B", None),
    ("park", "C2", "go back two steps", "B", None),
    ("park", "C2", "the version from three edits ago", "A", None),
    ("park", "C2", "one step back", "C1", None),
    ("park", "C2", "could you undo that?", "B", None),
    ("park", "C2", "oops, undo", "B", None),
    ("park", "C2", "undo the last three edits", "U", None),
    ("park", "C2", "go back 2", "B", None),
    ("park", "C2", "the previous version", "C1", None),
    ("park", "C2", "the one before this", "C1", None),
    ("park", "C2", "wait, go back", "C1", None),
    ("park", "C2", "nah, undo that", "B", None),
    ("park", "C2", "that's worse, go back", "C1", None),
    ("park", "G", "two edits ago", "B", None),
    ("park", "G", "a couple of steps back", "B", None),
    # turns
    ("park", "C2", "back to turn 2", "B", None),
    ("park", "C2", "show me version 1", "U", None),
    ("park", "C2", "the version after the first edit", "A", None),
    ("park", "C2", "jump to #3", "C1", None),
    ("park", "C2", "go to the second version", "A", None),
    ("park", "C2", "back to turn 9", "none", None),
    # at a change, by what the image has
    ("park", "C2", "back to the one with the dog", "B", None),
    ("park", "C2", "the one with the dog but no snow", "B", None),
    ("park", "C2", "the snowy one", "C2", None),
    ("park", "G", "actually the snowy one was nicer, go back to it", "C2", None),
    ("park", "C2", "back to the red bench", "A", None),
    ("park", "C2", "the version right after you made the bench red", "A", None),
    ("park", "C2", "let's go back to the version with the red bench and the dog", "B", None),
    ("park", "C2", "is it possible to go back to the one with just the dog?", "B", None),
    ("park", "C2", "would you mind taking me back to the red bench version?", "A", None),
    ("park", "C2", "can we go to the version with the umbrella?", "D", None),
    ("park", "C2", "go back to the one with the umbrella and the straw hat", "E", None),
    ("park", "C2", "show me the sunny one", "G", None),
    ("park", "C2", "the version with the black hat", "F", None),
    ("park", "A", "bring back the dog", "B", None),
    # branches
    ("park", "C2", "the branch with the umbrella", "E", None),
    ("park", "C2", "switch to the umbrella branch", "E", None),
    ("park", "C2", "the branch where he has the black hat", "G", None),
    ("park", "C2", "the branch with the dog", "G", None),
    ("park", "E", "the branch with the dog", "ask", None),
    ("park", "C2", "the other version", "ask", None),
    ("park", "C2", "the branch with the bicycle", "none", None),
    ("shapes", "Q4b", "the other version", "Q2", None),
    ("shapes", "Q4b", "switch to the other branch", "Q2", None),
    ("shapes", "Q2", "go back to the other one", "Q4b", None),
    ("shapes", "Q4b", "the branch with the triangle", "Q2", None),
    ("shapes", "Q4b", "hmm, can we look at the other version again?", "Q2", None),
    ("shapes", "Q2", "switch branch", "Q4b", None),
    ("shapes", "Q4b", "undo the vintage look", "Q3", None),
    ("shapes", "Q4b", "before the grain", "Q4a", None),
    ("shapes", "Q4b", "before the square turned red", "Q1", None),
    ("shapes", "Q2", "the vintage one", "Q4b", None),
    ("shapes", "Q4b", "the one where the circle was still red", "V", None),
    # ambiguous: two hats on two branches
    ("park", "C2", "go back to before the hat", "ask", None),
    ("park", "C2", "the one with the hat", "ask", None),
    ("park", "G", "before the hat", "B", None),
    ("park", "E", "before the hat", "D", None),
    ("park", "C2", "before the straw hat", "D", None),
    ("park", "C2", "before the black hat", "B", None),
    ("park", "C2", "can we go back to the version with a hat?", "ask", None),
    # nothing matches: nothing moves
    ("park", "C2", "go back to before the giraffe", "none", None),
    ("park", "C2", "the version where he wore sunglasses", "none", None),
    ("park", "C2", "undo the rainbow", "none", None),
    ("park", "C2", "before the man", "none", None),
    ("park", "C2", "can we go back to the one with the horse?", "none", None),
    # the other image
    ("park", "C2", "the other picture", "K", None),
    ("park", "C2", "go back to the second image", "K", None),
    ("park", "K1", "the first image", "U", None),
    ("park", "K1", "before the sofa was green", "K", None),
    # with an edit after it
    ("park", "C2", "go back to before the dog and make it sunny", "A", "make it sunny"),
    ("park", "C2", "can we go back to before the snow and add a hat instead?", "B",
     "add a hat instead"),
    ("park", "C2", "return to the original and make the bench blue", "U", "make the bench blue"),
    ("park", "C2", "undo that and try a scarf", "B", "try a scarf"),
    ("park", "C2", "hmm, go back to the red bench, then put a red umbrella in his hand", "A",
     "put a red umbrella in his hand"),
    # written after the rules above were tuned, and kept as they first scored
    ("park", "C2", "ugh, the dog ruined it. go back to before it", "A", None),
    ("park", "C2", "take it back to the version before the dog appeared", "A", None),
    ("park", "C2", "could we maybe get the red bench without the dog back?", "A", None),
    ("park", "C2", "i'd like to go back to the picture before the snow please", "B", None),
    ("park", "C2", "rewind to before the snowflakes", "C1", None),
    ("park", "C2", "let me see the one before the winter stuff", "B", None),
    ("park", "C2", "return to the unedited photo", "U", None),
    ("park", "C2", "go all the way back to the beginning", "U", None),
    ("park", "C2", "back to square one", "U", None),
    ("park", "C2", "three steps back please", "A", None),
    ("park", "C2", "undo twice", "A", None),
    ("park", "C2", "go back to the version where the man had a dog but it wasn't snowing", "B",
     None),
    ("park", "C2", "the one with the umbrella please", "D", None),
    ("park", "C2", "can you switch to the branch where he holds an umbrella?", "E", None),
    ("park", "C2", "jump over to the sunny branch", "G", None),
    ("park", "C2", "show me the straw hat one", "E", None),
    ("park", "C2", "go back to before the red umbrella", "A", None),
    ("park", "C2", "before the hat was added", "ask", None),
    ("park", "C2", "go back to before the spaceship", "none", None),
    ("park", "C2", "the branch with the spaceship", "none", None),
    ("park", "E", "go back to the version with the red umbrella but no hat", "D", None),
    ("park", "G", "revert to before it got sunny", "F", None),
    ("park", "G", "i liked it better before it was sunny", "F", None),
    ("park", "G", "before the sun", "F", None),
    ("shapes", "Q4b", "go back to before the vintage filter", "Q3", None),
    ("shapes", "Q4b", "the version before the film look", "Q3", None),
    ("shapes", "Q4b", "before you turned the circle blue", "V", None),
    ("shapes", "Q3", "the one with the yellow triangle", "Q2", None),
    ("shapes", "Q4b", "go back to before the colours faded and make the square green", "Q3",
     "make the square green"),
    ("shapes", "Q4b", "undo the last edit", "Q3", None),
    # a second batch written after the first was tuned, kept as it first scored
    ("park", "C2", "no wait, I want the version from before the dog got added", "A", None),
    ("park", "C2", "the dog doesn't work, can we go back to before it?", "A", None),
    ("park", "C2", "revert to the picture without any snow", "B", None),
    ("park", "C2", "i prefer how it was before the snow, let's go back", "B", None),
    ("park", "C2", "could you please switch me back to the original upload?", "U", None),
    ("park", "C2", "go back to the beginning please", "U", None),
    ("park", "C2", "take it back three steps", "A", None),
    ("park", "C2", "undo the last 2 changes", "A", None),
    ("park", "C2", "the version with the man and the dog on the red bench", "B", None),
    ("park", "C2", "show me the umbrella version again", "D", None),
    ("park", "C2", "go to the branch that has the straw hat", "E", None),
    ("park", "C2", "let's go back to the sunny version", "G", None),
    ("park", "C2", "back to before the brown bench turned red", "U", None),
    ("park", "C2", "go back to the version with a hat", "ask", None),
    ("park", "C2", "before the boat", "none", None),
    ("park", "E", "go back to before the straw hat and give him a cap", "D", "give him a cap"),
    ("park", "G", "can we get back to the snowy version?", "C2", None),
    ("park", "G", "return to the version before it became sunny", "F", None),
    ("shapes", "Q4b", "go back to before you changed the square", "Q1", None),
    ("shapes", "Q4b", "i liked it better before the vintage filter", "Q3", None),
    ("shapes", "Q4b", "the one with the triangle", "Q2", None),
    ("shapes", "Q4b", "go back to when the circle was still red", "V", None),
    ("shapes", "Q4b", "hmm, the version before the faded colours?", "Q3", None),
    ("shapes", "Q2", "the other branch", "Q4b", None),
    ("shapes", "Q4b", "jump back to version 2", "Q1", None),
    # added with the rule for it
    ("park", "C2", "change it back to how it was before the snow", "B", None),
    ("park", "C2", "wait, undo that", "B", None),
    ("park", "C2", "thanks, but undo that", "B", None),
    ("park", "E", "the umbrella looks silly, undo it", "A", None),
]

# Messages that mention going back or versions but are not navigation.
CONTROLS: list[tuple[str, set[str]]] = [
    ("add a sign that says go back", {"edit"}),
    ("make the dog look back at the camera", {"edit"}),
    ("what did you change in the last edit?", {"question"}),
    ("when did you add the dog?", {"question"}),
    ("what is in the current image?", {"question"}),
    ("add a hat to the picture", {"edit"}),
    ("replace the umbrella with a hat", {"edit"}),
    ("make the background darker", {"edit"}),
    ("move the dog to the left", {"edit"}),
    ("can you add a dog?", {"edit"}),
    ("go ahead and make it snowy", {"edit"}),
    ("use 15 steps", {"setting"}),
    ("switch to rf_solver", {"setting"}),
    ("show the history", {"history"}),
    ("thanks, that's great", {"chat"}),
    ("make it look like an old photo", {"edit"}),
    ("i want a red hat", {"edit"}),
    ("put the dog back on the bench", {"edit"}),
    ("give him his hat back", {"edit"}),
    ("make it look like the original painting", {"edit"}),
    ("what did it look like before the snow?", {"question"}),
    ("make a version with a cat", {"edit"}),
    ("add another dog in the background", {"edit"}),
    ("turn the bench back to brown", {"edit"}),
]


@dataclass
class Lineage:
    cid: str
    ids: dict[str, str]  # label -> node id


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 120, 120)).save(buf, format="PNG")
    return buf.getvalue()


def build(store, script) -> Lineage:
    """The scripted lineage in the store: nodes with their captions, instructions and focus
    words, and one finished edit job per request (what groups a request's steps)."""
    cid = store.create_conversation("navigation bench").id
    ids: dict[str, str] = {}
    png = _png()
    for labels, parent, captions, edit in script:
        if parent is None:
            ids[labels] = store.add_upload(cid, png, captions).id
            continue
        request, steps = edit
        job = store.create_job("edit", request={"request": request}, conversation_id=cid)
        made, prev = [], ids[parent]
        for label, caption, (instruction, focus) in zip(labels.split(), captions, steps,
                                                       strict=True):
            node = store.add_edit(prev, png, None, caption, instruction, caption, focus)
            ids[label] = prev = node.id
            made.append(node.id)
        store.update_job(job.id, status="done", result_node_ids=made)
    return Lineage(cid, ids)


def groups(store, cid: str) -> list[tuple[str, list[str]]]:
    return [(j.request.get("request", ""), list(j.result_node_ids))
            for j in reversed(store.list_jobs(cid)) if j.kind == "edit"]


