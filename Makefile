# Two set-up commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PM := $(BIN)/policymine

.PHONY: install demo test corpus clean

install: $(STAMP)

# torch first and pinned: the CPU build on this machine's disk; an unpinned
# torch pulled in by sentence-transformers would fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	@# Debian packages the tests use: chromium (tests/test_web.py drives it; never a browser
	@# downloaded by playwright), poppler-utils (pdftotext: the reading-order check) and tesseract
	@# (OCR of scanned pages). Installed only as root, where apt exists and a tool is missing;
	@# the install goes on without them and the tests that need one skip, naming it.
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
		|| echo "not installed:$$missing (the tests that need them will skip)"; \
	fi
	touch $(STAMP)

# Ingest the bundled briefs, run three searches, write two digests.
demo: install
	$(PM) ingest corpus
	$(PM) search "incentives for rooftop solar" -k 3
	$(PM) search "how do cities let residents decide on the budget" -k 3
	$(PM) search "affordable housing quotas for new development" -k 3 --country DE
	$(PM) digest --topic energy --out indexes/digest-energy.md
	$(PM) digest --query "green roofs and trees to cool the city" --out indexes/digest-heat.html
	@echo "demo done: index in indexes/, digests in indexes/digest-energy.md and indexes/digest-heat.html"

test: install
	$(BIN)/python -m pytest

# Rebuild the bundled sample briefs (corpus/*.pdf) from corpus-src/*.md.
corpus: install
	$(BIN)/python scripts/build_corpus.py

clean:
	rm -rf $(VENV) indexes build *.egg-info src/*.egg-info
