import json, os
from hypothesis import HealthCheck, settings
from tests.api_schema.test_schemathesis import ADMIN, schema

schema.config.generation.update(modes=["positive"])
OUT = open("/tmp/oa/positive422.txt", "a")

@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_positive(case):
    r = case.call(headers=ADMIN)
    if r.status_code in (400, 422, 500):
        OUT.write(f"{case.method} {case.path} {r.status_code} {r.text[:300]} BODY={json.dumps(case.body, default=str)[:300]} Q={case.query}\n"); OUT.flush()
