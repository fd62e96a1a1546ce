using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Feed;

public sealed class ChangeFeedOptions
{
    public const string SectionName = "ChangeFeed";

    /// <summary>The least time between two deliveries to one subscription.</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How many distinct runs a pending batch holds before it degrades to "reload everything".</summary>
    public int MaxBatchRuns { get; set; } = 500;
}

internal sealed class ValidateChangeFeedOptions : IValidateOptions<ChangeFeedOptions>
{
    public ValidateOptionsResult Validate(string? name, ChangeFeedOptions options)
    {
        var failures = new List<string>();
        if (options.MinInterval < TimeSpan.Zero || options.MinInterval > TimeSpan.FromSeconds(10))
        {
            failures.Add("ChangeFeed:MinInterval must be between 0 and 10 seconds.");
        }

        if (options.MaxBatchRuns < 1)
        {
            failures.Add("ChangeFeed:MaxBatchRuns must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
