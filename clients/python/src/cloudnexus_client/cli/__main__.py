from cloudnexus_client.cli import main

main()
