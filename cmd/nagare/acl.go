package main

// `nagare acl`: add, list and remove ACLs with CreateAcls, DescribeAcls and
// DeleteAcls through kadm's ACLBuilder, so it works against any Kafka cluster.
// The flags are kafka-acls.sh's: --allow-principal, --deny-principal,
// --allow-host, --deny-host, --operation, --topic, --group, --cluster,
// --transactional-id and --resource-pattern-type.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/nagare-dev/nagare/internal/acl"
)

// aclFlags are what kafka-acls.sh takes to name ACLs.
type aclFlags struct {
	allowPrincipals, denyPrincipals []string
	allowHosts, denyHosts           []string
	operations                      []string
	topics, groups, txnIDs          []string
	cluster                         bool
	pattern                         string
}

func (f *aclFlags) register(cmd *cobra.Command, defaultPattern string) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.allowPrincipals, "allow-principal", nil, "principal to allow, as User:name (User:* for everyone); repeatable")
	fs.StringArrayVar(&f.denyPrincipals, "deny-principal", nil, "principal to deny, as User:name; repeatable")
	fs.StringArrayVar(&f.allowHosts, "allow-host", nil, "IP address the allowed principals connect from (default *, every host); repeatable")
	fs.StringArrayVar(&f.denyHosts, "deny-host", nil, "IP address the denied principals connect from (default *); repeatable")
	fs.StringArrayVar(&f.operations, "operation", nil,
		"READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE or ALL; repeatable")
	fs.StringArrayVar(&f.topics, "topic", nil, "topic (or prefix, with --resource-pattern-type prefixed; * for every topic); repeatable")
	fs.StringArrayVar(&f.groups, "group", nil, "consumer group (or prefix; * for every group); repeatable")
	fs.StringArrayVar(&f.txnIDs, "transactional-id", nil, "transactional id (or prefix); repeatable")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource (kafka-cluster)")
	fs.StringVar(&f.pattern, "resource-pattern-type", defaultPattern, "literal or prefixed; filters also take any and match")
}

func (f *aclFlags) hasResource() bool {
	return len(f.topics)+len(f.groups)+len(f.txnIDs) > 0 || f.cluster
}

// builder turns the flags into a kadm ACLBuilder. For filters (list and
// remove) an absent principal, host or operation matches any.
func (f *aclFlags) builder(cmd *cobra.Command, filter bool) (*kadm.ACLBuilder, error) {
	pattern, ok := acl.ParsePatternType(f.pattern)
	if !ok || pattern == acl.PatternUnknown || (!filter && pattern != acl.PatternLiteral && pattern != acl.PatternPrefixed) {
		allowed := "literal or prefixed"
		if filter {
			allowed = "any, match, literal or prefixed"
		}
		return nil, usagef(cmd, "--resource-pattern-type must be %s, got %q", allowed, f.pattern)
	}
	b := kadm.NewACLs().ResourcePatternType(kadm.ACLPattern(pattern))
	if len(f.topics) > 0 {
		b.Topics(f.topics...)
	}
	if len(f.groups) > 0 {
		b.Groups(f.groups...)
	}
	if len(f.txnIDs) > 0 {
		b.TransactionalIDs(f.txnIDs...)
	}
	if f.cluster {
		b.Clusters()
	}
	if filter && !f.hasResource() {
		b.AnyResource()
	}
	for _, p := range append(slices.Clone(f.allowPrincipals), f.denyPrincipals...) {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return nil, usagef(cmd, "principal %q is not of the form Type:name (e.g. User:alice)", p)
		}
	}
	var ops []kadm.ACLOperation
	for _, o := range f.operations {
		op, ok := acl.ParseOperation(o)
		if !ok || op == acl.OpUnknown || (!filter && op == acl.OpAny) {
			return nil, usagef(cmd, "unknown --operation %q", o)
		}
		ops = append(ops, kadm.ACLOperation(op))
	}
	if len(ops) == 0 {
		if !filter {
			return nil, usagef(cmd, "give at least one --operation")
		}
		ops = []kadm.ACLOperation{kadm.OpAny}
	}
	b.Operations(ops...)
	anyPrincipal := filter && len(f.allowPrincipals)+len(f.denyPrincipals) == 0
	if len(f.allowPrincipals) > 0 || anyPrincipal {
		b.Allow(f.allowPrincipals...)
		b.AllowHosts(hostsOrWildcard(f.allowHosts, filter)...)
	}
	if len(f.denyPrincipals) > 0 || anyPrincipal {
		b.Deny(f.denyPrincipals...)
		b.DenyHosts(hostsOrWildcard(f.denyHosts, filter)...)
	}
	return b, nil
}

// hostsOrWildcard: creating defaults to every host (*); a filter without
// hosts matches any host.
func hostsOrWildcard(hosts []string, filter bool) []string {
	if len(hosts) == 0 && !filter {
		return []string{acl.Wildcard}
	}
	return hosts
}

// newACLCommand returns `nagare acl` and its subcommands.
func newACLCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:     "acl",
		Aliases: []string{"acls"},
		Short:   "Add, list and remove ACLs",
		Long: `Manage ACLs on any Kafka-compatible cluster with CreateAcls, DescribeAcls and
DeleteAcls, with the flags of Kafka's kafka-acls.sh. An ACL allows or denies a
principal (User:name, or User:* for everyone), connecting from a host (an IP, or
* for any), an operation on a resource: a topic, a group, a transactional id or
the cluster, named literally (* for all of that type) or by prefix.

A broker enforces ACLs when a listener authenticates clients (or
authorizer.class.name is set); super.users are allowed everything. Adding and
removing ACLs needs ALTER on the cluster, listing DESCRIBE.`,
		Example: `  nagare acl add --allow-principal User:alice --operation READ --operation WRITE \
      --topic billing. --resource-pattern-type prefixed
  nagare acl add --allow-principal User:alice --operation READ --group billing-app
  nagare acl add --deny-principal User:bob --deny-host 10.0.0.7 --operation ALL --topic payments
  nagare acl list --topic billing.events --resource-pattern-type match
  nagare acl remove --allow-principal User:alice --operation WRITE --topic billing. --resource-pattern-type prefixed`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	cf.register(cmd.PersistentFlags(), "nagare-cli")
	cmd.AddCommand(newACLAddCommand(cf), newACLListCommand(cf), newACLRemoveCommand(cf))
	return cmd
}

func newACLAddCommand(cf *clientFlags) *cobra.Command {
	var f aclFlags
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add ACLs: every principal × host × resource × operation given",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if len(f.allowPrincipals)+len(f.denyPrincipals) == 0 {
				return usagef(cmd, "give --allow-principal or --deny-principal")
			}
			if !f.hasResource() {
				return usagef(cmd, "give a resource: --topic, --group, --transactional-id or --cluster")
			}
			b, err := f.builder(cmd, false)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			results, err := adm.CreateACLs(ctx, b)
			if err != nil {
				return cf.explain(err)
			}
			var errs []error
			for _, r := range results {
				line := describeACLLine(r.Permission, r.Principal, r.Host, r.Operation, r.Type, r.Name, r.Pattern)
				if r.Err != nil {
					errs = append(errs, fmt.Errorf("%s: %w%s", line, r.Err, brokerSays(r.ErrMessage)))
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), "added", line)
			}
			return errors.Join(errs...)
		},
	}
	f.register(cmd, "literal")
	return cmd
}

// aclRow is one ACL as list prints it.
type aclRow struct {
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
	ResourceType string `json:"resourceType"`
	ResourceName string `json:"resourceName"`
	PatternType  string `json:"patternType"`
}

func newACLListCommand(cf *clientFlags) *cobra.Command {
	var f aclFlags
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List ACLs, all of them or those matching the flags",
		Long: `List ACLs with DescribeAcls. Without flags, every ACL. Resource flags narrow
the list; --resource-pattern-type match lists every ACL that applies to the named
resource (its literal name, the * wildcard, and prefixes of it); principal, host
and operation flags narrow further.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			b, err := f.builder(cmd, true)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			results, err := adm.DescribeACLs(ctx, b)
			if err != nil {
				return cf.explain(err)
			}
			var rows []aclRow
			var errs []error
			for _, r := range results {
				if r.Err != nil {
					errs = append(errs, fmt.Errorf("describe ACLs: %w%s", r.Err, brokerSays(r.ErrMessage)))
					continue
				}
				for _, d := range r.Described {
					rows = append(rows, aclRowOf(d.Permission, d.Principal, d.Host, d.Operation, d.Type, d.Name, d.Pattern))
				}
			}
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			return printACLRows(cmd.OutOrStdout(), rows, output.value)
		},
	}
	f.register(cmd, "any")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

func newACLRemoveCommand(cf *clientFlags) *cobra.Command {
	var f aclFlags
	cmd := &cobra.Command{
		Use:     "remove",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove the ACLs matching the flags",
		Long: `Remove ACLs with DeleteAcls: every ACL matching the flags, as list would show
them. A resource or a principal is required, so that a bare command cannot remove
every ACL.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			if !f.hasResource() && len(f.allowPrincipals)+len(f.denyPrincipals) == 0 {
				return usagef(cmd, "give a resource (--topic, --group, --transactional-id, --cluster) or a principal")
			}
			b, err := f.builder(cmd, true)
			if err != nil {
				return err
			}
			adm, ctx, done, err := cf.openAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			results, err := adm.DeleteACLs(ctx, b)
			if err != nil {
				return cf.explain(err)
			}
			var errs []error
			removed := 0
			for _, r := range results {
				if r.Err != nil {
					errs = append(errs, fmt.Errorf("delete ACLs: %w%s", r.Err, brokerSays(r.ErrMessage)))
					continue
				}
				for _, d := range r.Deleted {
					if d.Err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", describeACLLine(d.Permission, d.Principal, d.Host, d.Operation, d.Type, d.Name, d.Pattern), d.Err))
						continue
					}
					removed++
					fmt.Fprintln(cmd.OutOrStdout(), "removed", describeACLLine(d.Permission, d.Principal, d.Host, d.Operation, d.Type, d.Name, d.Pattern))
				}
			}
			if removed == 0 && len(errs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no ACL matched")
			}
			return errors.Join(errs...)
		},
	}
	f.register(cmd, "literal")
	return cmd
}

func aclRowOf(perm kmsg.ACLPermissionType, principal, host string, op kadm.ACLOperation, rt kmsg.ACLResourceType, name string, pattern kadm.ACLPattern) aclRow {
	return aclRow{Principal: principal, Host: host, Operation: acl.Operation(op).String(), Permission: acl.Permission(perm).String(),
		ResourceType: acl.ResourceType(rt).String(), ResourceName: name, PatternType: acl.PatternType(pattern).String()}
}

// describeACLLine prints one ACL in a sentence, for add and remove.
func describeACLLine(perm kmsg.ACLPermissionType, principal, host string, op kadm.ACLOperation, rt kmsg.ACLResourceType, name string, pattern kadm.ACLPattern) string {
	r := aclRowOf(perm, principal, host, op, rt, name, pattern)
	return fmt.Sprintf("%s %s from %s %s on %s %s (%s)", r.Permission, r.Principal, r.Host, r.Operation, r.ResourceType, r.ResourceName, r.PatternType)
}

func brokerSays(msg string) string {
	if msg == "" {
		return ""
	}
	return " (broker says: " + msg + ")"
}

func printACLRows(w io.Writer, rows []aclRow, format string) error {
	slices.SortFunc(rows, func(a, b aclRow) int {
		return strings.Compare(a.ResourceType+"\x00"+a.ResourceName+"\x00"+a.PatternType+"\x00"+a.Principal+"\x00"+a.Operation,
			b.ResourceType+"\x00"+b.ResourceName+"\x00"+b.PatternType+"\x00"+b.Principal+"\x00"+b.Operation)
	})
	if format == outputJSON {
		if rows == nil {
			rows = []aclRow{}
		}
		return writeJSON(w, rows)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "RESOURCE-TYPE\tNAME\tPATTERN\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ResourceType, r.ResourceName, r.PatternType, r.Principal, r.Host, r.Operation, r.Permission)
	}
	return tw.Flush()
}
