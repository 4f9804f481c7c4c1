# The two commands of a fresh machine: `make demo` and `make test`. Each sets up what it needs.
.PHONY: demo test test-jazzy test-humble test-kilted bench bench-messages soak feed late-pongs profile screenshot setup clean

demo:
	bash scripts/demo.sh

# Three lanes (scripts/setup.sh): Jazzy on Python 3.12, Jazzy on Humble's Python 3.10 with
# Humble's rclpy imports, and Kilted.
test:
	bash scripts/test.sh jazzy humble kilted

test-jazzy:
	bash scripts/test.sh jazzy

test-humble:
	bash scripts/test.sh humble

test-kilted:
	bash scripts/test.sh kilted

bench:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python -m pip install --quiet -r requirements/bench.txt
	.venv/kilted/bin/python bench/run.py

bench-messages:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python bench/messages.py

soak:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python bench/soak.py

feed:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python bench/feed.py

late-pongs:
	bash scripts/setup.sh kilted
	.venv/kilted/bin/python bench/late_pongs.py

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
	bash scripts/setup.sh jazzy
	bash scripts/setup.sh humble
	bash scripts/setup.sh kilted

clean:
	rm -rf .work
