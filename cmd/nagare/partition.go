package main

import "github.com/spf13/cobra"

// newPartitionCommand returns `nagare partition`: operations on partitions' leaders and
// replicas, each a client of a Kafka admin API. Each subcommand lives in its own file
// (partition_elect.go, ...).
func newPartitionCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:   "partition",
		Short: "Elect partition leaders and move partition replicas",
		Args:  noSubcommand,
		RunE:  showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(
		newPartitionElectCommand(cf),
		newPartitionReassignCommand(cf), newPartitionReassignmentsCommand(cf), // partition_reassign.go
	)
	return cmd
}
