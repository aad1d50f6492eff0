package main

// `nagare quota`: set, list, describe and remove client quotas, as Kafka's
// kafka-configs.sh does for users and clients, through AlterClientQuotas and
// DescribeClientQuotas (KIP-546) only, so it works against any Kafka cluster.
// An entity is a user, a client-id, or a (user, client-id) pair, each part
// a name or <default>; the broker resolves which one applies to a client
// (Kafka's eight-level precedence, internal/quota/doc.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Quota entity types, as the protocol names them.
const (
	quotaUser     = "user"
	quotaClientID = "client-id"
	quotaIP       = "ip" // KIP-612: connection_creation_rate, on its own
)

// defaultName is how Kafka's tools print the default entity of a type.
const defaultName = "<default>"

// newQuotaCommand returns `nagare quota` and its subcommands.
func newQuotaCommand() *cobra.Command {
	cf := new(clientFlags)
	cmd := &cobra.Command{
		Use:     "quota",
		Aliases: []string{"quotas"},
		Short:   "Set, list, describe and remove client quotas",
		Long: `Manage client quotas on any Kafka-compatible cluster with AlterClientQuotas and
DescribeClientQuotas (Kafka 2.6+), as kafka-configs.sh does for users and clients.

An entity is named with --user NAME or --user-default, --client-id NAME or
--client-id-default, or one of each for a (user, client-id) pair. For each quota
the broker applies the most specific entity that matches a client:
user+client-id, user+<default> client-id, user, <default> user+client-id,
<default> user+<default> client-id, <default> user, client-id, <default> client-id.

Quotas: request_percentage (share of one request thread's time, in percent),
producer_byte_rate and consumer_byte_rate (bytes/s), controller_mutation_rate
(partitions created or deleted per second), and connection_creation_rate
(new connections per second, on an IP entity alone: --ip ADDR or --ip-default).

The connection flags are --bootstrap and --timeout; --client-id names the quota
entity here, so this command's own requests go out as client.id nagare-cli.`,
		Example: `  nagare quota set --client-id-default --add request_percentage=200
  nagare quota set --user alice --client-id etl --add producer_byte_rate=1048576
  nagare quota list --user-any --output json
  nagare quota describe --user alice --client-id etl
  nagare quota remove --user alice --client-id etl --delete producer_byte_rate
  nagare quota set --ip-default --add connection_creation_rate=50
  nagare quota set --client-id-default --add controller_mutation_rate=10`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	// --client-id is an entity here, so every shared connection flag but
	// --client-id is registered (--bootstrap, --timeout, SASL and TLS).
	scratch := pflag.NewFlagSet("client", pflag.ContinueOnError)
	cf.register(scratch, "nagare-cli")
	scratch.VisitAll(func(f *pflag.Flag) {
		if f.Name != "client-id" {
			cmd.PersistentFlags().AddFlag(f)
		}
	})
	cmd.AddCommand(
		newQuotaSetCommand(cf),
		newQuotaRemoveCommand(cf),
		newQuotaListCommand(cf),
		newQuotaDescribeCommand(cf),
	)
	return cmd
}

// entityFlags name one quota entity.
type entityFlags struct {
	user, clientID, ip                      string
	userDefault, clientIDDefault, ipDefault bool
}

func (e *entityFlags) register(fs *pflag.FlagSet, what string) {
	fs.StringVar(&e.user, "user", "", what+" of this user (the authenticated principal)")
	fs.BoolVar(&e.userDefault, "user-default", false, what+" of the default user, <default>")
	fs.StringVar(&e.clientID, "client-id", "", what+" of this client-id")
	fs.BoolVar(&e.clientIDDefault, "client-id-default", false, what+" of the default client-id, <default>")
	fs.StringVar(&e.ip, "ip", "", what+" of this client IP address (connection_creation_rate only)")
	fs.BoolVar(&e.ipDefault, "ip-default", false, what+" of the default IP, <default>")
}

// entity returns the entity the flags name, user first as Kafka orders it.
func (e *entityFlags) entity(cmd *cobra.Command) (kadm.ClientQuotaEntity, error) {
	var entity kadm.ClientQuotaEntity
	for _, part := range []struct {
		typ, name, nameFlag, defaultFlag string
		isDefault                        bool
	}{
		{quotaUser, e.user, "user", "user-default", e.userDefault},
		{quotaClientID, e.clientID, "client-id", "client-id-default", e.clientIDDefault},
		{quotaIP, e.ip, "ip", "ip-default", e.ipDefault},
	} {
		named := cmd.Flags().Changed(part.nameFlag)
		switch {
		case named && part.isDefault:
			return nil, usagef(cmd, "give --%s or --%s, not both", part.nameFlag, part.defaultFlag)
		case named && part.name == "":
			return nil, usagef(cmd, "--%s must not be empty (use --%s for the default)", part.nameFlag, part.defaultFlag)
		case named:
			entity = append(entity, kadm.ClientQuotaEntityComponent{Type: part.typ, Name: &part.name})
		case part.isDefault:
			entity = append(entity, kadm.ClientQuotaEntityComponent{Type: part.typ})
		}
	}
	if len(entity) == 0 {
		return nil, usagef(cmd, "name the entity: --user NAME or --user-default, --client-id NAME or --client-id-default, or --ip ADDR or --ip-default")
	}
	return entity, nil
}

// quotaEntityPart is one component of an entity in JSON output. Default is
// true for the <default> entity of the type, which has no name.
type quotaEntityPart struct {
	Type    string `json:"type"`
	Name    string `json:"name,omitempty"`
	Default bool   `json:"default,omitempty"`
}

// quotaEntry is an entity and its quotas, in list and describe output.
type quotaEntry struct {
	Entity []quotaEntityPart  `json:"entity"`
	Quotas map[string]float64 `json:"quotas"`
}

func entityParts(entity kadm.ClientQuotaEntity) []quotaEntityPart {
	parts := make([]quotaEntityPart, len(entity))
	for i, c := range entity {
		parts[i] = quotaEntityPart{Type: c.Type, Default: c.Name == nil}
		if c.Name != nil {
			parts[i].Name = *c.Name
		}
	}
	return parts
}

// entityString formats an entity as kafka-configs.sh does: "user=alice,
// client-id=<default>".
func entityString(entity kadm.ClientQuotaEntity) string {
	s := make([]string, len(entity))
	for i, c := range entity {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

// entityName returns the name of entity's component of type typ: the name,
// defaultName, or "-" when the entity has no such component.
func entityName(entity []quotaEntityPart, typ string) string {
	for _, c := range entity {
		if c.Type == typ {
			if c.Default {
				return defaultName
			}
			return c.Name
		}
	}
	return "-"
}

func formatQuota(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// newQuotaSetCommand returns `nagare quota set`.
func newQuotaSetCommand(cf *clientFlags) *cobra.Command {
	var (
		ef           entityFlags
		adds         []string
		validateOnly bool
	)
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set quotas of one entity",
		Long: `Set quotas of one entity with AlterClientQuotas. Quotas not named keep their
values. The cluster validates the keys and values; with --validate-only it
checks them and changes nothing.`,
		Example: `  nagare quota set --client-id-default --add request_percentage=200
  nagare quota set --user alice --add producer_byte_rate=1048576 --add consumer_byte_rate=2097152`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			entity, err := ef.entity(cmd)
			if err != nil {
				return err
			}
			if len(adds) == 0 {
				return usagef(cmd, "nothing to set: give --add KEY=VALUE")
			}
			var ops []kadm.AlterClientQuotaOp
			for _, a := range adds {
				key, value, err := parseKeyValue("--add", a)
				if err != nil {
					return usageError{cmd: cmd, err: err}
				}
				v, err := strconv.ParseFloat(value, 64)
				if err != nil {
					return usagef(cmd, "--add %s: the value must be a number, got %q", key, value)
				}
				ops = append(ops, kadm.AlterClientQuotaOp{Key: key, Value: v})
			}
			return cf.explain(alterQuotas(cmd.Context(), cf, cmd.OutOrStdout(), entity, ops, validateOnly, output.value))
		},
	}
	ef.register(cmd.Flags(), "set quotas")
	cmd.Flags().StringArrayVar(&adds, "add", nil, "quota to set, KEY=VALUE (repeatable)")
	cmd.Flags().BoolVar(&validateOnly, "validate-only", false, "ask the cluster to validate the change without making it")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// newQuotaRemoveCommand returns `nagare quota remove`.
func newQuotaRemoveCommand(cf *clientFlags) *cobra.Command {
	var (
		ef           entityFlags
		deletes      []string
		all          bool
		validateOnly bool
	)
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "remove",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove quotas of one entity",
		Long: `Remove quotas of one entity with AlterClientQuotas, so that the next less specific
entity's quota (or the broker's default) applies. --all removes every quota the
entity has.`,
		Example: `  nagare quota remove --user alice --delete producer_byte_rate
  nagare quota remove --client-id-default --all`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			entity, err := ef.entity(cmd)
			if err != nil {
				return err
			}
			switch {
			case len(deletes) == 0 && !all:
				return usagef(cmd, "nothing to remove: give --delete KEY or --all")
			case len(deletes) > 0 && all:
				return usagef(cmd, "give --delete or --all, not both")
			}
			keys := uniqueStrings(deletes)
			if slices.Contains(keys, "") {
				return usagef(cmd, "--delete needs a quota name")
			}
			if all {
				described, err := describeQuotas(cmd.Context(), cf, exactFilter(entity), true)
				if err != nil {
					return cf.explain(err)
				}
				for _, e := range described {
					keys = append(keys, slices.Sorted(maps.Keys(e.Quotas))...)
				}
				if len(keys) == 0 {
					return fmt.Errorf("%s has no quotas to remove", entityString(entity))
				}
			}
			ops := make([]kadm.AlterClientQuotaOp, len(keys))
			for i, k := range keys {
				ops[i] = kadm.AlterClientQuotaOp{Key: k, Remove: true}
			}
			return cf.explain(alterQuotas(cmd.Context(), cf, cmd.OutOrStdout(), entity, ops, validateOnly, output.value))
		},
	}
	ef.register(cmd.Flags(), "remove quotas")
	cmd.Flags().StringSliceVar(&deletes, "delete", nil, "quota to remove (repeatable or comma-separated)")
	cmd.Flags().BoolVar(&all, "all", false, "remove every quota of the entity")
	cmd.Flags().BoolVar(&validateOnly, "validate-only", false, "ask the cluster to validate the change without making it")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// quotaAlteration is the result of set or remove in JSON output.
type quotaAlteration struct {
	Entity       []quotaEntityPart  `json:"entity"`
	Set          map[string]float64 `json:"set,omitempty"`
	Removed      []string           `json:"removed,omitempty"`
	ValidateOnly bool               `json:"validate_only"`
}

func alterQuotas(ctx context.Context, cf *clientFlags, out io.Writer, entity kadm.ClientQuotaEntity,
	ops []kadm.AlterClientQuotaOp, validateOnly bool, output string) error {
	adm, ctx, done, err := cf.openAdmin(ctx)
	if err != nil {
		return err
	}
	defer done()

	alter := adm.AlterClientQuotas
	if validateOnly {
		alter = adm.ValidateAlterClientQuotas
	}
	results, err := alter(ctx, []kadm.AlterClientQuotaEntry{{Entity: entity, Ops: ops}})
	if err != nil {
		return fmt.Errorf("alter quotas of %s: %w", entityString(entity), err)
	}
	for _, r := range results {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return fmt.Errorf("alter quotas of %s: %w (broker says: %s)", entityString(entity), r.Err, r.ErrMessage)
			}
			return fmt.Errorf("alter quotas of %s: %w", entityString(entity), r.Err)
		}
	}
	result := quotaAlteration{Entity: entityParts(entity), ValidateOnly: validateOnly}
	var changes []string
	for _, op := range ops {
		if op.Remove {
			result.Removed = append(result.Removed, op.Key)
			changes = append(changes, "removed "+op.Key)
			continue
		}
		if result.Set == nil {
			result.Set = map[string]float64{}
		}
		result.Set[op.Key] = op.Value
		changes = append(changes, "set "+op.Key+"="+formatQuota(op.Value))
	}
	if output == outputJSON {
		return writeJSON(out, result)
	}
	verb := "Altered"
	if validateOnly {
		verb = "Validated (nothing changed)"
	}
	_, err = fmt.Fprintf(out, "%s quotas of %s: %s.\n", verb, entityString(entity), strings.Join(changes, "; "))
	return err
}

// exactFilter matches entity exactly: each component by name or as the
// default.
func exactFilter(entity kadm.ClientQuotaEntity) []kadm.DescribeClientQuotaComponent {
	filter := make([]kadm.DescribeClientQuotaComponent, len(entity))
	for i, c := range entity {
		filter[i] = kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name, MatchType: kmsg.QuotasMatchTypeExact}
		if c.Name == nil {
			filter[i].MatchType = kmsg.QuotasMatchTypeDefault
		}
	}
	return filter
}

// describeQuotas returns the entities that match filter with their quotas,
// sorted by user, then client-id, then other types (defaults first).
func describeQuotas(ctx context.Context, cf *clientFlags, filter []kadm.DescribeClientQuotaComponent, strict bool) ([]quotaEntry, error) {
	adm, err := cf.newAdmin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ctx, cancel := cf.withTimeout(ctx)
	defer cancel()

	described, err := adm.DescribeClientQuotas(ctx, strict, filter)
	if err != nil {
		var msg *kadm.ErrAndMessage
		if errors.As(err, &msg) && msg.ErrMessage != "" {
			return nil, fmt.Errorf("describe quotas: %w (broker says: %s)", msg.Err, msg.ErrMessage)
		}
		return nil, fmt.Errorf("describe quotas: %w", err)
	}
	entries := make([]quotaEntry, 0, len(described))
	for _, d := range described {
		// Kafka does not order an entity's components; print user first.
		entity := slices.Clone(d.Entity)
		slices.SortStableFunc(entity, func(a, b kadm.ClientQuotaEntityComponent) int { return typeRank(a.Type) - typeRank(b.Type) })
		e := quotaEntry{Entity: entityParts(entity), Quotas: map[string]float64{}}
		for _, v := range d.Values {
			e.Quotas[v.Key] = v.Value
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b quotaEntry) int { return strings.Compare(entrySortKey(a), entrySortKey(b)) })
	return entries, nil
}

func typeRank(typ string) int {
	switch typ {
	case quotaUser:
		return 0
	case quotaClientID:
		return 1
	}
	return 2
}

// entrySortKey orders entries by user, then client-id; an absent
// component sorts first, then the default, then names.
func entrySortKey(e quotaEntry) string {
	var b strings.Builder
	for _, typ := range []string{quotaUser, quotaClientID} {
		switch name := entityName(e.Entity, typ); name {
		case "-":
			b.WriteString("0\x00")
		case defaultName:
			b.WriteString("1\x00")
		default:
			b.WriteString("2" + name + "\x00")
		}
	}
	for _, c := range e.Entity {
		if typeRank(c.Type) == 2 {
			b.WriteString(c.Type + "=" + c.Name + "\x00")
		}
	}
	return b.String()
}

// newQuotaListCommand returns `nagare quota list`.
func newQuotaListCommand(cf *clientFlags) *cobra.Command {
	var (
		ef                        entityFlags
		userAny, clientAny, ipAny bool
		strict                    bool
	)
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the quotas of every entity, or of those matching filters",
		Long: `List quotas with DescribeClientQuotas. Without filters, every entity that has
quotas. Each filter narrows the list to entities with that component: --user NAME
(that user), --user-default (the default user), --user-any (any user, named or
default), and likewise for client-ids. With --strict an entity must have no
component beyond the filters: --user alice --strict lists /users/alice but not
/users/alice/clients/etl.`,
		Example: `  nagare quota list
  nagare quota list --user alice
  nagare quota list --client-id-any --strict --output json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			var filter []kadm.DescribeClientQuotaComponent
			for _, part := range []struct {
				typ, nameFlag, defaultFlag, anyFlag string
				name                                string
				isDefault, isAny                    bool
			}{
				{quotaUser, "user", "user-default", "user-any", ef.user, ef.userDefault, userAny},
				{quotaClientID, "client-id", "client-id-default", "client-id-any", ef.clientID, ef.clientIDDefault, clientAny},
				{quotaIP, "ip", "ip-default", "ip-any", ef.ip, ef.ipDefault, ipAny},
			} {
				named := cmd.Flags().Changed(part.nameFlag)
				given := 0
				for _, b := range []bool{named, part.isDefault, part.isAny} {
					if b {
						given++
					}
				}
				switch {
				case given > 1:
					return usagef(cmd, "give only one of --%s, --%s and --%s", part.nameFlag, part.defaultFlag, part.anyFlag)
				case named && part.name == "":
					return usagef(cmd, "--%s must not be empty (use --%s for the default)", part.nameFlag, part.defaultFlag)
				case named:
					name := part.name
					filter = append(filter, kadm.DescribeClientQuotaComponent{Type: part.typ, MatchName: &name, MatchType: kmsg.QuotasMatchTypeExact})
				case part.isDefault:
					filter = append(filter, kadm.DescribeClientQuotaComponent{Type: part.typ, MatchType: kmsg.QuotasMatchTypeDefault})
				case part.isAny:
					filter = append(filter, kadm.DescribeClientQuotaComponent{Type: part.typ, MatchType: kmsg.QuotasMatchTypeAny})
				}
			}
			if strict && len(filter) == 0 {
				return usagef(cmd, "--strict needs a filter")
			}
			entries, err := describeQuotas(cmd.Context(), cf, filter, strict)
			if err != nil {
				return cf.explain(err)
			}
			return printQuotaEntries(cmd.OutOrStdout(), entries, output.value)
		},
	}
	ef.register(cmd.Flags(), "only quotas")
	cmd.Flags().BoolVar(&userAny, "user-any", false, "only quotas of entities with a user, named or default")
	cmd.Flags().BoolVar(&clientAny, "client-id-any", false, "only quotas of entities with a client-id, named or default")
	cmd.Flags().BoolVar(&ipAny, "ip-any", false, "only quotas of ip entities, named or default")
	cmd.Flags().BoolVar(&strict, "strict", false, "only entities with no component beyond the filters")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// newQuotaDescribeCommand returns `nagare quota describe`.
func newQuotaDescribeCommand(cf *clientFlags) *cobra.Command {
	var ef entityFlags
	output := newChoice(outputTable, outputTable, outputJSON)
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Show the quotas set on one entity",
		Long: `Show the quotas set on exactly one entity (DescribeClientQuotas, strict). They
are the entity's own: a client may be held to a quota of a less specific entity,
or to the broker's default, when this one has none.`,
		Example: `  nagare quota describe --user alice
  nagare quota describe --user alice --client-id-default --output json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cf.validate(cmd); err != nil {
				return err
			}
			entity, err := ef.entity(cmd)
			if err != nil {
				return err
			}
			entries, err := describeQuotas(cmd.Context(), cf, exactFilter(entity), true)
			if err != nil {
				return cf.explain(err)
			}
			e := quotaEntry{Entity: entityParts(entity), Quotas: map[string]float64{}}
			for _, d := range entries {
				maps.Copy(e.Quotas, d.Quotas)
			}
			out := cmd.OutOrStdout()
			if output.value == outputJSON {
				return writeJSON(out, e)
			}
			if len(e.Quotas) == 0 {
				_, err := fmt.Fprintf(out, "No quotas set on %s.\n", entityString(entity))
				return err
			}
			fmt.Fprintf(out, "Quotas of %s:\n", entityString(entity))
			tw := newTable(out)
			fmt.Fprintln(tw, "QUOTA\tVALUE")
			for _, k := range slices.Sorted(maps.Keys(e.Quotas)) {
				fmt.Fprintf(tw, "%s\t%s\n", k, formatQuota(e.Quotas[k]))
			}
			return tw.Flush()
		},
	}
	ef.register(cmd.Flags(), "the quotas")
	cmd.Flags().VarP(output, "output", "o", "output format")
	return cmd
}

// printQuotaEntries prints entries as JSON or as a table with a row per quota.
func printQuotaEntries(out io.Writer, entries []quotaEntry, output string) error {
	if output == outputJSON {
		return writeJSON(out, entries)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "USER\tCLIENT-ID\tQUOTA\tVALUE")
	for _, e := range entries {
		user, client := entityName(e.Entity, quotaUser), entityName(e.Entity, quotaClientID)
		for _, c := range e.Entity {
			if typeRank(c.Type) == 2 { // an entity type beside user and client-id, such as ip
				name := orDash(c.Name)
				if c.Default {
					name = defaultName
				}
				client += " (" + c.Type + "=" + name + ")"
			}
		}
		for _, k := range slices.Sorted(maps.Keys(e.Quotas)) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", user, client, k, formatQuota(e.Quotas[k]))
		}
	}
	return tw.Flush()
}
