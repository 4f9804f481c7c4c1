test:
	bash scripts/test.sh
