"""Dev experiments whose numbers are quoted in docs/decisions.md or a card's notes but that ship no pack. Offline
tooling: never imported by serving code."""
