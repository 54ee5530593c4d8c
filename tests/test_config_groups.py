"""The settings come in named groups (one module each) joined into one flat `Settings`: every
setting belongs to exactly one group, each group's checks still run on the joined object,
and `PAPERFEED_*` names, the TOML file and the error message read as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.config import GROUPS, Settings, load_settings
from paperfeed.errors import ConfigError


def test_every_setting_belongs_to_exactly_one_group_in_the_documented_order() -> None:
    names = [name for group in GROUPS for name in group.model_fields]
    assert len(names) == len(set(names)), "a setting is in two groups"
    assert names == list(Settings.model_fields), "Settings is not joined from GROUPS, in order"
    assert all((group.__doc__ or "").strip() for group in GROUPS)  # the docs' section titles


def test_each_groups_checks_run_on_the_joined_settings() -> None:
    """Two groups with a check of the same name would silently lose one (pydantic keys the
    checks by name): every group's check must be the one Settings runs."""
    joined = Settings.__pydantic_decorators__.field_validators
    for group in GROUPS:
        for name, check in group.__pydantic_decorators__.field_validators.items():
            assert name in joined, (group.__name__, name)
            runs = getattr(joined[name].func, "__func__", joined[name].func)
            assert runs is getattr(check.func, "__func__", check.func), (
                f"{group.__name__}.{name} is shadowed by another group's check of that name"
            )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PAPERFEED_DIGEST_TIME", "25:00", "expected a time as HH:MM"),
        ("PAPERFEED_SCHEDULE_INGEST_TIME", "7h", "expected a time as HH:MM"),
        ("PAPERFEED_DIGEST_WEEKLY_DAY", "friday", "unknown week day 'friday'"),
        ("PAPERFEED_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("PAPERFEED_TRUSTED_PROXIES", "10.0.0.0/8, proxy", "not an IP address or network"),
        ("PAPERFEED_PORT", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_value_in_any_group_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"{variable}: " in str(caught.value)
    assert message in str(caught.value)


def test_settings_of_several_groups_come_from_the_environment_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    for name in ("DIGEST_TIME", "SCHEDULE_INGEST_TIME", "DB_POOL_SIZE", "SEARCH_FUSION"):
        monkeypatch.delenv(f"PAPERFEED_{name}", raising=False)
    config = tmp_path / "paperfeed.toml"
    config.write_text(
        'digest_time = " 06:30 "\nschedule_ingest_time = "05:45"\nsearch_fusion = "rrf"\n'
    )
    monkeypatch.setenv("PAPERFEED_DB_POOL_SIZE", "9")
    monkeypatch.setenv("PAPERFEED_OLD_SECRET_KEYS", '["an-old-secret-of-thirty-two-chars!!"]')
    settings = load_settings(config)
    assert settings.digest_time == "06:30"  # stripped by the digests group's check
    assert settings.schedule_ingest_time == "05:45"
    assert settings.search_fusion == "rrf"
    assert settings.db_pool_size == 9
    assert [key.get_secret_value() for key in settings.old_secret_keys] == [
        "an-old-secret-of-thirty-two-chars!!"
    ]
    with pytest.raises(ConfigError, match="PAPERFEED_NO_SUCH_SETTING: Extra inputs"):
        load_settings(no_such_setting=1)
