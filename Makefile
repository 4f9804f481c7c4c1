# The two commands of a fresh machine: `make demo` and `make test`. Each sets up what it needs.
.PHONY: demo test test-kilted test-jazzy bench soak profile screenshot setup clean

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh kilted jazzy

test-kilted:
	bash scripts/test.sh kilted

test-jazzy:
	bash scripts/test.sh jazzy

bench:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python -m pip install --quiet -r requirements/bench.txt
	.venv/kilted/bin/python bench/run.py

soak:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python bench/soak.py

profile:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python -m pip install --quiet -r requirements/bench.txt
	.venv/kilted/bin/python bench/hotpaths.py

screenshot:
	bash scripts/setup.sh kilted
	bash scripts/browser.sh
	ARTBOT_REQUIRE_BROWSER=1 ARTBOT_SCREENSHOT=$(CURDIR)/docs/dashboard.png \
	  .venv/kilted/bin/python -m pytest -q -p no:cacheprovider test/test_dashboard.py \
	  -m browser -k screenshot

setup:
	bash scripts/setup.sh kilted
	bash scripts/setup.sh jazzy

clean:
	rm -rf .work
