# The two commands of a fresh machine: `make demo` and `make test`. Each sets up what it needs.
.PHONY: demo test test-kilted test-jazzy bench setup clean

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
	.venv/kilted/bin/python bench/run.py

setup:
	bash scripts/setup.sh kilted
	bash scripts/setup.sh jazzy

clean:
	rm -rf .work
