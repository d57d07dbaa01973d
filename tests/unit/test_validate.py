import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_deploy import validate
from retail_deploy.errors import InputError


@pytest.mark.parametrize("good", ["1.4.2", "1.0.0-rc.1", "v2", "latest", "2025_01_15", "a" * 128])
def test_valid_docker_tags_pass(good):
    assert validate.version(good) == good


@pytest.mark.parametrize("bad", [
    "1.0;touch /tmp/pwned", "$(id)", "1.0 2", "-rm", ".hidden", "a" * 129, "1.0\n", "tag/with/slash", "",
    "1.0`x`", "é",
])
def test_invalid_tags_are_refused_with_one_line(bad):
    with pytest.raises(InputError) as caught:
        validate.version(bad)
    assert "\n" not in str(caught.value)


_SHELL = set(";&|$`\\\"' \n\t<>(){}*?!#~")


@given(st.text(max_size=140))
def test_nothing_with_shell_metacharacters_is_ever_accepted(text):
    try:
        accepted = validate.version(text)
    except InputError:
        return
    assert not (set(accepted) & _SHELL)
    assert 1 <= len(accepted) <= 128 and accepted[0] not in "-."


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("500ms", 0.5), (90, 90), ("2", 2)])
def test_durations(text, seconds):
    assert validate.duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", "m", True])
def test_bad_durations(bad):
    with pytest.raises(InputError):
        validate.duration(bad)
