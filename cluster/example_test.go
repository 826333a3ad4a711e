package cluster_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/switchyard/switchyard/cluster"
)

// Start a master and two replicas, write on the master, read on a replica.
// In tests, prefer cluster.StartForTest(t, opts), which skips without a backend and stops
// the cluster in t.Cleanup.
func ExampleStart() {
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{Replicas: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Stop()

	master, _ := sql.Open("mysql", c.Master().DSN(c.Users.App, ""))
	defer master.Close()
	if _, err := master.ExecContext(ctx, "CREATE DATABASE demo"); err != nil {
		log.Fatal(err)
	}
	if err := c.WaitReplicated(ctx); err != nil { // replicas have applied it
		log.Fatal(err)
	}
	replica, _ := sql.Open("mysql", c.Replicas()[0].DSN(c.Users.App, "demo"))
	defer replica.Close()

	_ = c.Kill(c.Master())           // kill -9
	_ = c.StartNode(ctx, c.Master()) // same data, port, config
}
