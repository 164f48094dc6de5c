"""Refuse answers that would generate a connector that cannot load.

cookiecutter runs this with the interpreter that runs `ihost new-plugin`, so host is here;
the rules are host.newplugin's, checked against host.vocabulary.
"""

import json
import sys

from host.newplugin import answer_problems

problems = answer_problems(json.loads({{ cookiecutter | jsonify | tojson }}))
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
