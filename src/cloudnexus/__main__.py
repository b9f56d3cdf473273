from cloudnexus.cli import main

main()
