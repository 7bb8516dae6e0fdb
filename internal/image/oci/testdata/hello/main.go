// Command hello is a static test program for the runc test: it prints what
// the container runtime gave it, so the test can check that the image
// config (environment, user, working directory, arguments) was honoured.
package main

import (
	"fmt"
	"os"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Printf("hello uid=%d gid=%d cwd=%s REEF_TEST=%s args=%q\n",
		os.Getuid(), os.Getgid(), wd, os.Getenv("REEF_TEST"), os.Args[1:])
}
