"""Focus words -> T5 token positions, on tokenizers built locally (no download)."""

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from editing_core.focus import find_word_spans, focus_token_positions

WORDS = ["a", "an", "the", "red", "blue", "green", "car", "cat", "dog", "hat", "on", "street", "in", "of", "with", "and", "photo", "big"]


def _fast(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", model_max_length=32
    )


@pytest.fixture(scope="module")
def word_t5():
    """Word-level T5 stand-in: lower-cases, splits on whitespace/punctuation, appends </s>."""
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *WORDS, ",", "."])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return _fast(tok)


@pytest.fixture(scope="module")
def piece_t5():
    """SentencePiece-style (Unigram + Metaspace) like T5's: 'teapot' -> '▁tea' 'pot'."""
    pieces = ["<pad>", "</s>", "<unk>", "▁a", "▁tea", "pot", "▁on", "▁the", "▁table", "▁red", "▁Red",
              "▁", "T", "e", "a", "p", "o", "t", "s", "▁big"]
    vocab = [(p, -1.0 if p.startswith("▁") and len(p) > 1 else -8.0) for p in pieces]
    vocab[4] = ("▁tea", -2.0)
    vocab[5] = ("pot", -2.0)
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return _fast(tok)


def _tokens(tok, prompt, positions):
    ids = tok(prompt)["input_ids"]
    return [tok.convert_ids_to_tokens(ids[p]) for p in positions]


def test_single_word_maps_to_its_token(word_t5):
    prompt = "a red car on the street"
    pos = focus_token_positions(word_t5, prompt, ["car"], max_length=32)
    assert pos == [2]
    assert _tokens(word_t5, prompt, pos) == ["car"]


def test_case_insensitive_and_phrases(word_t5):
    prompt = "A Red Car on the street"
    assert focus_token_positions(word_t5, prompt, ["CAR"], 32) == [2]
    assert focus_token_positions(word_t5, prompt, ["red car"], 32) == [1, 2]
    assert focus_token_positions(word_t5, prompt, ["street", "red"], 32) == [1, 5]


def test_every_occurrence_and_punctuation(word_t5):
    prompt = "a cat, a dog and a cat."
    pos = focus_token_positions(word_t5, prompt, ["cat"], 32)
    assert _tokens(word_t5, prompt, pos) == ["cat", "cat"]
    assert pos == [1, 7]


def test_absent_word_gives_nothing_and_stems_fall_back(word_t5):
    prompt = "a red car on the street"
    assert focus_token_positions(word_t5, prompt, ["bicycle"], 32) == []
    assert focus_token_positions(word_t5, prompt, [], 32) == []
    assert focus_token_positions(word_t5, prompt, ["", "  "], 32) == []
    # plural focus word, singular in the prompt
    assert focus_token_positions(word_t5, prompt, ["cars"], 32) == [2]
    # short words never match by stem: "on" is not "one"
    assert focus_token_positions(word_t5, prompt, ["one"], 32) == []


def test_phrase_not_in_prompt_falls_back_to_its_words(word_t5):
    prompt = "a blue car on the street"
    assert focus_token_positions(word_t5, prompt, ["red car"], 32) == [2]


def test_truncated_positions_are_dropped(word_t5):
    prompt = "a red car on the street with a big dog"
    assert focus_token_positions(word_t5, prompt, ["dog"], 32) == [9]
    assert focus_token_positions(word_t5, prompt, ["dog"], 6) == []
    assert focus_token_positions(word_t5, prompt, ["car", "dog"], 6) == [2]


def test_multi_token_word_gives_all_its_pieces(piece_t5):
    prompt = "a teapot on the table"
    ids = piece_t5(prompt)["input_ids"]
    assert piece_t5.convert_ids_to_tokens(ids)[:3] == ["▁a", "▁tea", "pot"]
    pos = focus_token_positions(piece_t5, prompt, ["Teapot"], 32)
    assert pos == [1, 2]
    assert focus_token_positions(piece_t5, prompt, ["table"], 32) == [5]


def test_word_spans():
    assert find_word_spans("The cat sat", "cat") == [(4, 7)]
    assert find_word_spans("concatenate cat", "cat") == [(12, 15)]
    assert find_word_spans("reddish hat", "red") == [(0, 7)]


def test_positions_on_the_tiny_flux_tokenizer_reloaded_from_disk(tiny_flux_dir):
    """The T5 tokenizer as the backend loads it from a diffusers-format folder."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_flux_dir / "tokenizer_2", local_files_only=True)
    prompt = "A photo of a Red cat wearing a red hat"
    pos = focus_token_positions(tok, prompt, ["red hat", "cat"], max_length=64)
    ids = tok(prompt, padding="max_length", max_length=64, truncation=True)["input_ids"]
    assert [tok.convert_ids_to_tokens(ids[p]) for p in pos] == ["cat", "red", "hat"]
    assert pos == [5, 8, 9]
