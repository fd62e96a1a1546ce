using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OperationsHub.Core.Feed;

/// <summary>The single-node feed: subscriptions indexed by scope, published to without locks on the hot path.</summary>
internal sealed partial class InProcessRunChangeFeed(
    IOptions<ChangeFeedOptions> options,
    TimeProvider timeProvider,
    ILogger<InProcessRunChangeFeed> logger) : IRunChangeFeed
{
    private long _sequence;

    private ImmutableDictionary<RunChangeScope, ImmutableArray<ThrottledSubscription>> _subscriptions =
        ImmutableDictionary<RunChangeScope, ImmutableArray<ThrottledSubscription>>.Empty;

    public long Sequence => Interlocked.Read(ref _sequence);

    public void Publish(RunChanged change)
    {
        Interlocked.Increment(ref _sequence);
        var snapshot = Volatile.Read(ref _subscriptions);
        if (snapshot.IsEmpty)
        {
            return;
        }

        Post(snapshot, RunChangeScope.ForTenant(change.TenantId), change);
        Post(snapshot, RunChangeScope.ForRun(change.RunId), change);
        if (change.InitiatorUserId is { } userId)
        {
            Post(snapshot, RunChangeScope.ForUser(userId), change);
        }
    }

    public IDisposable Subscribe(RunChangeScope scope, Func<RunChangeBatch, Task> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var value = options.Value;
        var subscription = new ThrottledSubscription(
            this, scope, callback, value.MinInterval, value.MaxBatchRuns, timeProvider, logger);
        ImmutableInterlocked.AddOrUpdate(
            ref _subscriptions, scope, _ => [subscription], (_, existing) => existing.Add(subscription));
        return subscription;
    }

    /// <summary>
    /// Tells every subscriber to reload everything it shows (a delivery with <see cref="RunChangeBatch.Overflowed"/>):
    /// for changes this node may have missed, such as those published elsewhere while its cross-node listener was
    /// reconnecting.
    /// </summary>
    internal void ReloadAll()
    {
        Interlocked.Increment(ref _sequence);
        foreach (var subscriptions in Volatile.Read(ref _subscriptions).Values)
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Overflow();
            }
        }
    }

    /// <summary>How many subscriptions are live; for diagnostics and leak tests.</summary>
    internal int SubscriptionCount => Volatile.Read(ref _subscriptions).Values.Sum(s => s.Length);

    private static void Post(
        ImmutableDictionary<RunChangeScope, ImmutableArray<ThrottledSubscription>> snapshot,
        RunChangeScope scope,
        RunChanged change)
    {
        if (snapshot.TryGetValue(scope, out var subscriptions))
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Post(change);
            }
        }
    }

    private void Remove(ThrottledSubscription subscription)
    {
        while (true)
        {
            var current = Volatile.Read(ref _subscriptions);
            if (!current.TryGetValue(subscription.Scope, out var list))
            {
                return;
            }

            var remaining = list.Remove(subscription);
            var next = remaining.IsEmpty ? current.Remove(subscription.Scope) : current.SetItem(subscription.Scope, remaining);
            if (Interlocked.CompareExchange(ref _subscriptions, next, current) == current)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "A change-feed subscriber for {Scope} failed")]
    private static partial void SubscriberFailed(ILogger logger, Exception exception, RunChangeScope scope);

    /// <summary>
    /// Coalesces signals and delivers them at most once per interval: the first signal after a quiet period goes out
    /// at once (leading edge), later ones wait for the interval, and whatever arrived meanwhile is always delivered
    /// (trailing edge). A delivery in progress holds the next one back, so a slow circuit never piles up work, and a
    /// slow delivery stretches the interval before the next (see <see cref="CurrentInterval"/>).
    /// </summary>
    private sealed class ThrottledSubscription : IDisposable
    {
        private const int CostFactor = 5;
        private static readonly TimeSpan MaxAdaptiveInterval = TimeSpan.FromSeconds(2);

        private readonly InProcessRunChangeFeed _feed;
        private readonly Func<RunChangeBatch, Task> _callback;
        private readonly TimeSpan _interval;
        private readonly int _maxBatchRuns;
        private readonly TimeProvider _time;
        private readonly ILogger _logger;
        private readonly Lock _gate = new();
        private readonly ITimer _timer;
        private Dictionary<long, RunChanged> _pending = [];
        private bool _overflowed;
        private bool _scheduled;
        private bool _delivering;
        private bool _disposed;
        private long _lastDeliveryStart;
        private TimeSpan _lastDeliveryCost;

        public ThrottledSubscription(
            InProcessRunChangeFeed feed,
            RunChangeScope scope,
            Func<RunChangeBatch, Task> callback,
            TimeSpan interval,
            int maxBatchRuns,
            TimeProvider time,
            ILogger logger)
        {
            _feed = feed;
            Scope = scope;
            _callback = callback;
            _interval = interval;
            _maxBatchRuns = maxBatchRuns;
            _time = time;
            _logger = logger;
            _timer = time.CreateTimer(static s => ((ThrottledSubscription)s!).StartDelivery(), this,
                Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _lastDeliveryStart = time.GetTimestamp() - (long)(interval.TotalSeconds * time.TimestampFrequency) - 1;
        }

        public RunChangeScope Scope { get; }

        public void Post(RunChanged change)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                if (!_overflowed)
                {
                    _pending[change.RunId] = _pending.TryGetValue(change.RunId, out var existing)
                        ? RunChanged.Coalesce(existing, change)
                        : change;

                    if (_pending.Count > _maxBatchRuns)
                    {
                        OverflowLocked();
                    }
                }

                ScheduleIfIdleLocked();
            }
        }

        public void Overflow()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                OverflowLocked();
            }
        }

        /// <summary>From now on the next delivery says "reload everything" instead of listing runs.</summary>
        private void OverflowLocked()
        {
            _overflowed = true;
            _pending.Clear();
            ScheduleIfIdleLocked();
        }

        /// <summary>A delivery is scheduled unless one is already due or under way (its end schedules the next).</summary>
        private void ScheduleIfIdleLocked()
        {
            if (!_scheduled && !_delivering)
            {
                ScheduleLocked();
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _pending.Clear();
            }

            _timer.Dispose();
            _feed.Remove(this);
        }

        /// <summary>
        /// Back-pressure: a subscriber whose deliveries take long (a busy machine, a slow page) is asked less often, at
        /// most <see cref="CostFactor"/> times what its last delivery took, never less than the configured interval
        /// and never more than <see cref="MaxAdaptiveInterval"/>. On an idle machine nothing changes; under a flood of
        /// changes, hundreds of open pages give the CPU back to the work instead of re-rendering ever faster.
        /// </summary>
        private TimeSpan CurrentInterval()
        {
            var adaptive = _lastDeliveryCost * CostFactor;
            return adaptive <= _interval ? _interval : adaptive >= MaxAdaptiveInterval ? MaxAdaptiveInterval : adaptive;
        }

        private void ScheduleLocked()
        {
            _scheduled = true;
            var wait = CurrentInterval() - _time.GetElapsedTime(_lastDeliveryStart);
            if (wait <= TimeSpan.Zero)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.StartDelivery(), this, preferLocal: false);
            }
            else
            {
                _timer.Change(wait, Timeout.InfiniteTimeSpan);
            }
        }

        private void StartDelivery() => _ = DeliverAsync();

        private async Task DeliverAsync()
        {
            RunChangeBatch batch;
            lock (_gate)
            {
                _scheduled = false;
                if (_disposed || (_pending.Count == 0 && !_overflowed))
                {
                    return;
                }

                batch = new RunChangeBatch(_overflowed ? [] : [.. _pending.Values], _overflowed);
                _pending = [];
                _overflowed = false;
                _delivering = true;
                _lastDeliveryStart = _time.GetTimestamp();
            }

            try
            {
                await _callback(batch);
            }
            catch (Exception ex)
            {
                SubscriberFailed(_logger, ex, Scope);
            }
            finally
            {
                lock (_gate)
                {
                    _lastDeliveryCost = _time.GetElapsedTime(_lastDeliveryStart);
                    _delivering = false;
                    if (!_disposed && (_pending.Count > 0 || _overflowed))
                    {
                        ScheduleLocked();
                    }
                }
            }
        }
    }
}
