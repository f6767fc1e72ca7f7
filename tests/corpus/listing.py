# Listing of the corpus for people: python3 tests/corpus/listing.py > tests/corpus/CASES.md
import tomllib, shlex
d = tomllib.load(open(__import__('os').path.join(__import__('os').path.dirname(__file__), 'cases.toml'), 'rb'))
cases = d['case']
from collections import Counter
cnt = Counter(c['area'] for c in cases)
lines = ["# The bad-input corpus (generated from cases.toml by listing.py)", "", f"{len(cases)} cases: " + ", ".join(f"{a} {n}" for a, n in sorted(cnt.items())) + ".", "",
         "| # | area | case | command (`ttfit ...`) | exit | message must match | may write |", "|---|---|---|---|---|---|---|"]
for i, c in enumerate(cases, 1):
    cmd = " ".join(shlex.quote(a) for a in c['args']).replace("|", "\\|")
    msg = c['message'].replace("|", "\\|")
    setup = "; ".join(" ".join(s) for s in c.get('setup', []))
    name = c['name'] + (f" (setup: {setup})" if setup else "")
    lines.append(f"| {i} | {c['area']} | {name} | `{cmd}` | {c['exit']} | `{msg}` | {', '.join(c.get('creates', [])) or '-'} |")
print("\n".join(lines))
