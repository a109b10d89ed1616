from tidsnok.cli import main

main()
