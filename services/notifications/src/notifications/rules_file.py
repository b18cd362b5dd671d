"""Reading the rules file (YAML or JSON) named by ``NOTIFICATION_RULES_FILE``; the defaults without one."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from notifications.domain.rules import DEFAULT_RULES, InvalidRules, Rules, parse_rules


def load_rules(path: str | Path | None) -> Rules:
    if not path:
        return DEFAULT_RULES
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRules(f"cannot read the notification rules file {file}: {exc}") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidRules(f"the notification rules file {file} is not valid YAML/JSON: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise InvalidRules(f"the notification rules file {file} must hold a mapping at the top")
    return parse_rules(data)
