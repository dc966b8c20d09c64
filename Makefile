PYTHON ?= python3
DATA ?= ../shared/data

.PHONY: install install-dev run test test-fast test-postgres lint audit train train-smoke label-check evaluate memory bench readme

install:
	$(PYTHON) -m pip install -e '.[web,fast]'

install-dev:
	$(PYTHON) -m pip install -e '.[web,peers,dev,train,ray,postgres]'

run: install
	$(PYTHON) -m classrec.web

test:
	$(PYTHON) -m pytest -q

test-fast:
	$(PYTHON) -m pytest -q -m "not slow"

# The suites that go through the web app's database, again on PostgreSQL (the rest never touch it)
DB_TESTS = tests/web/test_api.py tests/web/test_courses.py tests/web/test_presets.py \
	tests/web/test_playback.py tests/web/test_upload_jobs.py tests/web/test_live.py \
	tests/web/test_durability.py tests/reliability/test_fair_use.py \
	tests/reliability/test_security.py tests/reliability/test_input_validation.py \
	tests/reliability/test_hardening.py tests/reliability/test_ws_fuzz.py \
	tests/reliability/test_faults.py tests/reliability/test_signup_browser.py \
	tests/reliability/test_database_values.py

test-postgres:  # DB_TESTS on a throwaway PostgreSQL cluster (Debian's postgresql package)
	dir=/tmp/classrec-pg-$$$$; url=$$(.ci/start-postgres $$dir) || exit 1; \
	DATABASE_URL=$$url $(PYTHON) -m pytest -q $(DB_TESTS); status=$$?; \
	.ci/start-postgres $$dir stop; rm -rf $$dir; exit $$status

lint:
	$(PYTHON) -m ruff check src tests bench
	$(PYTHON) -m ruff format --check src tests bench

readme:  # run README.md's examples and rewrite the outputs they show (tests/test_readme.py checks)
	$(PYTHON) docs/readme_examples.py --write

audit:  # static security rules (ruff S) and known vulnerabilities in dependencies (pip-audit)
	$(PYTHON) -m ruff check src  # with the S (bandit) rules selected in pyproject.toml
	$(PYTHON) tests/reliability/audit.py

train:  # the shipped model: 48 minutes of training on 2 cores, seeded
	$(PYTHON) -m classrec.train.recipe --data $(DATA) --minutes 48 --ship

train-smoke:  # the same recipe in 15 minutes, for CI-sized checks (not shipped)
	$(PYTHON) -m classrec.train.recipe --data $(DATA) --minutes 12 --train-clips 2000 --out runs/smoke

label-check:  # the training label rule against people's labels (split=dev), plotted
	$(PYTHON) -m classrec.train.label_check --data $(DATA)

evaluate:
	$(PYTHON) -m classrec.lab.evaluate evaluate --data $(DATA)

memory:
	$(PYTHON) -m classrec.train.memory --data $(DATA)

bench:
	$(PYTHON) -m bench
