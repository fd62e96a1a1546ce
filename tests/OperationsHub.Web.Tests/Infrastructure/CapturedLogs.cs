using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OperationsHub.Web.Tests.Infrastructure;

/// <summary>Keeps every warning and error logged, with its category and event, for tests that say "nothing to warn about".</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, EventId Event, LogLevel Level, string Message)> _entries = new();

    public IReadOnlyList<(string Category, EventId Event, LogLevel Level, string Message)> Warnings => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(string, EventId, LogLevel, string)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                entries.Enqueue((category, eventId, logLevel, formatter(state, exception)));
            }
        }
    }
}
