package main

import "github.com/spf13/cobra"

// addServe adds `nagare serve` to the root command.
//
// Placeholder: the engineer who writes serve.go replaces this file with one
// whose addServe calls root.AddCommand(newServeCommand()).
func addServe(root *cobra.Command) {}
