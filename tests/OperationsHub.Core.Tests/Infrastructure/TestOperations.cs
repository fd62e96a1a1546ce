using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Operations;

namespace OperationsHub.Core.Tests.Infrastructure;

/// <summary>Handlers with known behaviour, one per outcome the worker must map.</summary>
public static class TestOperations
{
    public const string Succeed = "test_succeed";
    public const string Partial = "test_partial";
    public const string AllFail = "test_all_fail";
    public const string Throws = "test_throws";
    public const string FailsWithCode = "test_fails_with_code";
    public const string Blocking = "test_blocking";
    public const string BlockingNotRetrySafe = "test_blocking_not_retry_safe";
    public const string Chatty = "test_chatty";
    public const string ProgressOnly = "test_progress_only";
    public const string ProgressOnlyThenThrows = "test_progress_only_then_throws";
    public const string Logging = "test_logging";

    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<BlockingGate>();
        services
            .AddOperationType<SucceedHandler>(new(Succeed, "Succeeds") { RetrySafe = true })
            .AddOperationType<PartialHandler>(new(Partial, "Partially succeeds") { RetriesFailedItems = true })
            .AddOperationType<AllFailHandler>(new(AllFail, "All items fail"))
            .AddOperationType<ThrowingHandler>(new(Throws, "Throws"))
            .AddOperationType<CodedFailureHandler>(new(FailsWithCode, "Fails with a code"))
            .AddOperationType<BlockingHandler>(new(Blocking, "Blocks until released") { RetrySafe = true })
            .AddOperationType<BlockingHandler>(new(BlockingNotRetrySafe, "Blocks, not retry-safe"))
            .AddOperationType<ChattyHandler>(new(Chatty, "Reports progress very often"))
            .AddOperationType<ProgressOnlyHandler>(new(ProgressOnly, "Reports only a processed count"))
            .AddOperationType<ProgressOnlyThenThrowsHandler>(new(ProgressOnlyThenThrows, "Reports a processed count, then throws"))
            .AddOperationType<LoggingHandler>(new(Logging, "Logs, fails an item, then waits"));
    }

    public const string Secret = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

    private sealed class SucceedHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(3);
            context.ItemSucceeded();
            context.ItemSucceeded();
            context.ItemSkipped();
            return Task.CompletedTask;
        }
    }

    private sealed class PartialHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(4);
            context.ItemSucceeded();
            context.ItemSucceeded();
            context.ItemSucceeded();
            context.ItemFailed("device_unreachable", $"DEV-4 refused: Authorization: Bearer {Secret}", "DEV-4");
            return Task.CompletedTask;
        }
    }

    private sealed class AllFailHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(2);
            context.ItemFailed("e1", "first failed");
            context.ItemFailed("e2", "second failed");
            return Task.CompletedTask;
        }
    }

    private sealed class ThrowingHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"Upstream said no; connection was Server=db;Password=hunter2;token={Secret}");
    }

    private sealed class CodedFailureHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken) =>
            throw new OperationFailedException("quota_exceeded", "The tenant's Graph quota is used up; try again in an hour.");
    }

    /// <summary>Reports progress, then waits for the test to release it (or for cancellation).</summary>
    private sealed class BlockingHandler(BlockingGate gate) : IOperationHandler
    {
        public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(10);
            context.ItemSucceeded();
            gate.Entered(context.RunId);
            await gate.WaitAsync(context.RunId, cancellationToken);
            context.ItemSucceeded();
        }
    }

    /// <summary>Says how far it got, never item by item (a backup's steps).</summary>
    private sealed class ProgressOnlyHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(8);
            context.ReportProcessed(8);
            return Task.CompletedTask;
        }
    }

    /// <summary>Gets 5 of 8 steps done, then the sixth throws.</summary>
    private sealed class ProgressOnlyThenThrowsHandler : IOperationHandler
    {
        public Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(8);
            context.ReportProcessed(5);
            throw new OperationFailedException("step_failed", "Step 6 could not be written.");
        }
    }

    /// <summary>
    /// Fails its first item, writes <c>lines</c> log lines (default 3; the second carries a secret) as fast as it can,
    /// waits for the test, then succeeds its second item and logs "done".
    /// </summary>
    private sealed class LoggingHandler(BlockingGate gate) : IOperationHandler
    {
        public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            var lines = context.Context.Inputs.TryGetValue("lines", out var raw) ? int.Parse(raw, System.Globalization.CultureInfo.InvariantCulture) : 3;
            context.SetTotal(2);
            context.ItemFailed("device_unreachable", "DEV-1 did not answer.", "DEV-1");
            for (var i = 1; i <= lines; i++)
            {
                context.Log(i == 2 ? Domain.RunLogLevel.Warning : Domain.RunLogLevel.Information,
                    i == 2 ? $"line {i}: Authorization: Bearer {Secret}" : $"line {i}");
            }

            gate.Entered(context.RunId);
            await gate.WaitAsync(context.RunId, cancellationToken);
            context.ItemSucceeded();
            context.Log(Domain.RunLogLevel.Information, "done");
        }
    }

    /// <summary>Reports 10,000 items as fast as it can, then waits for the test.</summary>
    private sealed class ChattyHandler(BlockingGate gate) : IOperationHandler
    {
        public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
        {
            context.SetTotal(10_000);
            for (var i = 0; i < 10_000; i++)
            {
                context.ItemSucceeded();
            }

            gate.Entered(context.RunId);
            await gate.WaitAsync(context.RunId, cancellationToken);
        }
    }
}

/// <summary>Lets a test hold a handler mid-run and release it when it chooses.</summary>
public sealed class BlockingGate
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, TaskCompletionSource> _release = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, TaskCompletionSource> _entered = new();

    public void Entered(long runId) => Get(_entered, runId).TrySetResult();

    public Task WhenEnteredAsync(long runId) => Get(_entered, runId).Task.WaitAsync(TimeSpan.FromSeconds(15));

    public Task WaitAsync(long runId, CancellationToken cancellationToken) =>
        Get(_release, runId).Task.WaitAsync(cancellationToken);

    public void Release(long runId) => Get(_release, runId).TrySetResult();

    private static TaskCompletionSource Get(System.Collections.Concurrent.ConcurrentDictionary<long, TaskCompletionSource> map, long runId) =>
        map.GetOrAdd(runId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
