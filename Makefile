# approvals-bot: `make run` runs the bot, `make test` runs every check. Both install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install redis-server fonts poppler-utils chromium lint typecheck imports pytest bench format clean

run: install redis-server fonts
	@test -f .env || { \
	  cp .env.example .env && \
	  echo "ENCRYPTION_KEYS=$$($(BIN)/approvals-bot keygen)" >> .env && \
	  echo "Created .env with a new ENCRYPTION_KEYS; without Slack credentials in it, the bot serves the playground."; }
	@set -a && . ./.env && set +a && exec $(BIN)/approvals-bot serve

test: install redis-server fonts poppler-utils chromium lint typecheck imports pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Installs a Debian package (with sudo when not root): $(call apt_install,PACKAGE)
apt_install = { echo "$(1) is missing; installing it from Debian packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(1) >/dev/null; }

# The embedded store and the tests need a redis-server binary; the tests' throwaway Redis Cluster
# is created with redis-cli (redis-tools). Install both from Debian's packages.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || $(call apt_install,redis-server)
	@command -v redis-cli >/dev/null 2>&1 || $(call apt_install,redis-tools)

# Evidence reports embed DejaVu Sans (services/evidence/pdf.py); nothing is fetched at run time.
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf || $(call apt_install,fonts-dejavu-core)

# The tests read evidence reports with pdftotext and render every page with pdftoppm.
poppler-utils:
	@command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || $(call apt_install,poppler-utils)

# The browser test drives Debian's Chromium through Debian's chromedriver (nothing downloads a
# browser or a driver at run time); the emoji font shows messages' emoji as Slack does.
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || $(call apt_install,chromium chromium-driver)
	@test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || $(call apt_install,fonts-noto-color-emoji)

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

# The tests mostly wait (on servers, child processes, Redis), so more workers than cores keep the
# cores busy. Each worker is a session of its own: its own redis-server, cluster and temp dirs.
# Work stealing: a worker that runs out takes tests queued on another, so the run does not end
# with one worker alone on a queue of long process tests.
PYTEST_WORKERS ?= 4

pytest:
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install redis-server
	$(BIN)/python -m bench.ack

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
