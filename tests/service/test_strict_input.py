"""Issue 13, failures 1, 4 and 5: request size, junk phrases, lax integers, malformed bodies,
GET comma lists, the Allow header of a 405 and an OpenAPI that says what the server does."""

from __future__ import annotations

import json
import unicodedata

import pytest
from fastapi.testclient import TestClient

from hardneg.miners.types import clean_phrase
from hardneg.service.app import create_app


@pytest.fixture(scope="module")
def pipeline(make_pipeline):
    return make_pipeline()


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline=pipeline)) as c:
        yield c


@pytest.fixture(scope="module")
def small(pipeline):
    """The app with a 1 MiB body limit (the default, 16 MiB, leaves room for one image)."""
    settings = pipeline.settings.model_copy(update={"max_body_bytes": 1024 * 1024})
    with TestClient(create_app(settings, pipeline=pipeline)) as c:
        yield c


def _error(resp, status=422):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["code"] == status
    return body["error"]["message"]


@pytest.mark.parametrize(
    "phrase", ["\u0000", "\u200b", "!!!", "\u200b\u200b ", "--", "cat\u202e", "\u2066dog", "a\x07b"]
)
def test_phrases_empty_after_normalisation_or_with_controls_are_422(client, phrase):
    for field in ("positives", "present", "exclude"):
        item = {"positives": ["cat"], field: [phrase]}
        msg = _error(client.post("/v1/negatives", json={"items": [item]}))
        assert field in msg
    _error(client.get("/v1/negatives", params={"concept": phrase}))


def test_control_characters_are_named_not_echoed(client):
    msg = _error(client.post("/v1/negatives", json={"items": [{"positives": ["bus\u202egnp"]}]}))
    assert "U+202E" in msg and "\u202e" not in msg
    assert "U+0007" in _error(
        client.post("/v1/negatives", json={"items": [{"positives": ["a"], "id": "x\x07"}]})
    )


def test_zero_width_spaces_are_stripped(client):
    body = {"items": [{"positives": ["zebra\u200b"], "id": "z"}], "k": 3}
    plain = {"items": [{"positives": ["zebra"], "id": "z"}], "k": 3}
    got = client.post("/v1/negatives", json=body).json()["items"][0]["negatives"]
    assert got == client.post("/v1/negatives", json=plain).json()["items"][0]["negatives"]


def test_the_phrase_rule_is_the_normalised_one():
    """A phrase is refused when hardneg's own normalisation leaves nothing of it, and only then
    (compatibility symbols such as "ⓡ" need a letter as written: the schema's pattern)."""
    from hardneg.miners.knowledge.normalize import match_key

    samples = ["cat", "北京", "x²", "!!!", "(…)", "'s", "—", "🚌", "ß", "٣", "\u00ad", "a-b"]
    samples += [chr(cp) for cp in range(0x20, 0x3000, 97) if unicodedata.category(chr(cp)) != "Cs"]
    for s in samples:
        try:
            clean_phrase(s)
            accepted = True
        except ValueError:
            accepted = False
        if unicodedata.category(s[0])[0] == "C":
            continue  # controls are refused by rule, whatever normalisation makes of them
        if accepted:
            assert match_key(s), repr(s)
        elif unicodedata.normalize("NFKC", s) == s:
            assert not match_key(s), repr(s)


@pytest.mark.parametrize("k", ["5", True, 5.0, "true", [5]])
def test_k_is_a_json_integer(client, k):
    assert "k" in _error(
        client.post("/v1/negatives", json={"items": [{"positives": ["a"]}], "k": k})
    )


def test_get_takes_miners_as_a_comma_list(client):
    one = client.get("/v1/negatives", params={"concept": "zebra", "miners": "vocabulary", "k": 3})
    assert one.status_code == 200, one.text
    both = client.get(
        "/v1/negatives", params={"concept": "zebra", "miners": "vocabulary, vocabulary", "k": 3}
    )
    assert both.status_code == 200, both.text
    assert "nope" in _error(
        client.get("/v1/negatives", params={"concept": "zebra", "miners": "vocabulary,nope"})
    )


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"items": [', "malformed JSON"),
        (b'{"items": [{"positives": ["caf\xe9"]}]}', "UTF-8"),
        (b'{"items": [{"positives": ["\\ud800"]}]}', "surrogate"),
        (b'{"items": [{"positives": ["a"]}], "min_similarity": NaN}', "NaN"),
        (b'{"items": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper"),
        (b"[" * 100_000, "nested deeper"),
    ],
)
def test_malformed_bodies_are_422_in_the_one_shape(client, raw, needle):
    resp = client.post("/v1/negatives", content=raw, headers={"content-type": "application/json"})
    assert needle in _error(resp)


def test_body_over_the_limit_is_413_before_parsing(small):
    big = json.dumps({"items": [{"positives": ["cat"]}] * 200_000}).encode()  # ~5 MB
    resp = small.post("/v1/negatives", content=big, headers={"content-type": "application/json"})
    assert "larger than 1048576 bytes" in _error(resp, 413)


def test_the_default_limit_takes_one_image_and_refuses_more(client):
    image = "A" * 14_000_000  # base64 of a ~10 MB image: under the default 16 MiB
    body = json.dumps({"items": [{"positives": ["cat"], "image": image}]}).encode()
    resp = client.post("/v1/negatives", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text[:300]  # parsed and refused as an image, not a 413
    resp = client.post(
        "/v1/negatives",
        content=body + b" " * 3_000_000,
        headers={"content-type": "application/json"},
    )
    assert "larger than" in _error(resp, 413)


def test_streamed_body_over_the_limit_is_413(small):
    def chunks():
        yield b'{"items": ['
        for _ in range(30_000):
            yield b'{"positives": ["a yellow school bus"]},'
        yield b'{"positives": ["x"]}]}'

    resp = small.post(
        "/v1/negatives", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "larger than" in _error(resp, 413)


def test_405_names_every_method_of_the_path(client):
    resp = client.put("/v1/negatives", json={})
    _error(resp, 405)
    allowed = {m.strip() for m in resp.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed


def test_openapi_declares_what_the_server_answers(client):
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/negatives"]["post"]
    for status in ("413", "422", "429"):
        ref = post["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorResponse"), status
    assert "Retry-After" in post["responses"]["429"]["headers"]
    fp = spec["paths"]["/v1/false-positives"]["post"]["responses"]
    assert fp["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert {"413", "429", "503"} <= set(fp)
    for path, ops in spec["paths"].items():
        if path.startswith(("/v1/negatives", "/v1/false-positives", "/v1/verify")):
            for op in ops.values():
                if "422" in op["responses"]:  # the one error shape, not FastAPI's default
                    schema = op["responses"]["422"]["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorResponse"), path
    item = spec["components"]["schemas"]["RequestItem"]["properties"]
    assert "pattern" in item["positives"]["items"]
    miners = spec["components"]["schemas"]["NegativesRequest"]["properties"]["miners"]
    assert {"type": "array", "items": {**miners["anyOf"][0]["items"]}} in miners["anyOf"]
    assert "vocabulary" in miners["anyOf"][0]["items"]["enum"]
    ingest = spec["components"]["schemas"]["FalsePositiveIngest"]
    assert ingest["allOf"][0]["oneOf"] == [
        {"required": ["ground_truth"]},
        {"required": ["ground_truth_path"]},
    ]
