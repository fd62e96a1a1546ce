using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using OperationsHub.Core.Domain;

namespace OperationsHub.Sqlite;

/// <summary>What SQLite needs beyond the shared model: the expression of the generated duration column.</summary>
internal sealed class SqliteModelCustomizer(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
{
    /// <summary>
    /// Milliseconds from start to completion (dates are stored as ISO-8601 text, which julianday reads), 0 without
    /// both. VIRTUAL: computed on read, so the row does not grow; its index stores the value.
    /// </summary>
    internal const string DurationSql =
        "CASE WHEN started_at IS NULL OR completed_at IS NULL THEN 0 "
        + "ELSE CAST(round((julianday(completed_at) - julianday(started_at)) * 86400000.0) AS INTEGER) END";

    public override void Customize(ModelBuilder modelBuilder, DbContext context)
    {
        base.Customize(modelBuilder, context);
        modelBuilder.Entity<OperationRun>().Property(r => r.DurationMs).HasComputedColumnSql(DurationSql, stored: false);
    }
}
