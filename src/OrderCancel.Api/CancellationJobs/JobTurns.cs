using System.Diagnostics;
using OrderCancel.Api.Scheduling;

namespace OrderCancel.Api.CancellationJobs;

/// <summary>What a worker of the jobs' sweep does next (<see cref="JobTurns.Next"/>).</summary>
internal abstract record JobTurn
{
    /// <summary>Start a queued job or, none being left, read the running ones again.</summary>
    public sealed record Refresh : JobTurn;

    /// <summary>A job whose chunks have all been claimed: complete it once its batches in flight have committed.</summary>
    public sealed record Complete(Guid JobId) : JobTurn;

    /// <summary>A batch of this job.</summary>
    public sealed record Claim(JobSweep Sweep) : JobTurn;

    /// <summary>Every job with chunks left belongs to a partner that has its share of the workers: wait until a batch ends.</summary>
    public sealed record Wait(Task BatchEnded) : JobTurn;
}

/// <summary>
/// Whose turn it is, in one instance's sweep over the running jobs (<see cref="CancellationJobRunner"/>). Each batch goes
/// to the job whose partner was served least recently and, among that partner's jobs, to the one served least
/// recently: one partner's huge job costs that partner alone, and a small job finishes in about the time it takes
/// alone. A partner alone has all the workers; beside other partners with batches to run or in flight, each has one
/// batch at a time: a worker whose turn would be a second batch of a partner beside another's waits instead, so the
/// other's batch does not share the machine's cores with several of the first one's (on two cores, two each made a
/// 100-order job take twice as long beside a large job). Also which jobs ran out of chunks and wait to be completed, and when to look for jobs again: when one was
/// created here (the worker was woken), and every poll interval, for those started on another instance or whose
/// chunks a crash gave back.
/// </summary>
internal sealed class JobTurns(Func<long> wakes, Func<Task> nextWake, TimeSpan refreshEvery)
{
    private readonly Lock _gate = new();

    /// <summary>The jobs with chunks left to claim, oldest first.</summary>
    private readonly List<JobSweep> _working = [];

    private readonly Queue<Guid> _toComplete = new();
    private readonly HashSet<Guid> _completing = [];

    /// <summary>Each partner's latest turn (<see cref="_turns"/> then): the one with the oldest, or none, goes next.</summary>
    private readonly Dictionary<Guid, long> _partnerServed = [];

    /// <summary>Jobs that failed (to start, or a batch): left alone until a refresh a poll interval later, as the next round would.</summary>
    private readonly Dictionary<Guid, long> _faultedAt = [];

    /// <summary>Each partner's batches in flight.</summary>
    private readonly Dictionary<Guid, int> _inFlight = [];

    private TaskCompletionSource _batchEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _turns;
    private long _wakesSeen = wakes();
    private bool _refreshDue = true;
    private bool _refreshing;
    private long _refreshedAt = Stopwatch.GetTimestamp();

    /// <summary>There is a job to work or to complete.</summary>
    public bool HasWork
    {
        get
        {
            lock (_gate)
            {
                return _working.Count > 0 || _toComplete.Count > 0;
            }
        }
    }

    /// <summary>
    /// The next turn: a refresh when one is due (and no other worker is at it), else a job to complete, else a batch of
    /// the next job in turn whose partner has fewer than its share in flight, else a wait for a batch to end; null when
    /// there is nothing left to do.
    /// </summary>
    public JobTurn? Next()
    {
        lock (_gate)
        {
            if (BeginRefreshLocked())
            {
                return new JobTurn.Refresh();
            }

            if (_toComplete.TryDequeue(out var done))
            {
                _completing.Add(done);
                return new JobTurn.Complete(done);
            }

            if (_working.Count == 0)
            {
                return null;
            }

            var partners = _working.Select(sweep => sweep.PartnerId).Concat(_inFlight.Keys).Distinct().Count();
            // Alone, a partner has every worker; beside others, one batch at a time each, so a small job's one batch shares
            // the cores with one of the large job's, not several (with two each, 100 orders beside 200,000 took 2.0-2.5 × its time alone).
            var share = partners == 1 ? BackgroundBatches.Workers : 1;
            JobSweep? next = null;
            long nextPartnerServed = 0;
            foreach (var sweep in _working)
            {
                var partnerServed = _partnerServed.GetValueOrDefault(sweep.PartnerId);
                if (_inFlight.GetValueOrDefault(sweep.PartnerId) < share
                    && (next is null || partnerServed < nextPartnerServed || (partnerServed == nextPartnerServed && sweep.Served < next.Served)))
                {
                    (next, nextPartnerServed) = (sweep, partnerServed);
                }
            }

            if (next is null)
            {
                // Or a new job: it gets its first turn now, not once one of the others' batches has ended.
                return new JobTurn.Wait(Task.WhenAny(_batchEnded.Task, nextWake()));
            }

            _partnerServed[next.PartnerId] = next.Served = ++_turns;
            _inFlight[next.PartnerId] = _inFlight.GetValueOrDefault(next.PartnerId) + 1;
            return new JobTurn.Claim(next);
        }
    }

    /// <summary>Takes the refresh when one is due and no other worker is at it (the sweep's first turns, before its workers start).</summary>
    public bool BeginRefresh()
    {
        lock (_gate)
        {
            return BeginRefreshLocked();
        }
    }

    /// <summary>Queued jobs not to start now: those that failed to start within the last poll interval.</summary>
    public Guid[] NotToStart()
    {
        lock (_gate)
        {
            return [.. _faultedAt.Keys];
        }
    }

    /// <summary>
    /// The refresh committed: when it started a job, the job joins the others (its first batch can be the next turn),
    /// and the next refresh looks for another queued one, then reads the running jobs.
    /// </summary>
    public void Started(JobSweep? job)
    {
        if (job is null)
        {
            return;
        }

        lock (_gate)
        {
            _refreshing = false;
            _refreshDue = true;
            if (!_working.Exists(sweep => sweep.JobId == job.JobId))
            {
                _working.Add(job);
            }
        }
    }

    /// <summary>
    /// The running jobs, oldest first, as the refresh read them: those still being worked keep their sweep (how far its
    /// claims went); the others join with a sweep from their start, but those waiting to be completed and those that
    /// failed within the last poll interval.
    /// </summary>
    public void Refreshed(IReadOnlyList<JobSweep> running)
    {
        lock (_gate)
        {
            EndRefreshLocked();
            foreach (var (job, at) in _faultedAt.ToList())
            {
                if (Stopwatch.GetElapsedTime(at) >= refreshEvery)
                {
                    _faultedAt.Remove(job);
                }
            }

            var working = _working.ToDictionary(sweep => sweep.JobId);
            _working.Clear();
            foreach (var job in running)
            {
                if (working.TryGetValue(job.JobId, out var sweep))
                {
                    _working.Add(sweep);
                }
                else if (!_toComplete.Contains(job.JobId) && !_completing.Contains(job.JobId) && !_faultedAt.ContainsKey(job.JobId))
                {
                    _working.Add(job);
                }
            }
        }
    }

    /// <summary>
    /// The refresh failed: starting <paramref name="job"/> (left queued, not started again within a poll interval; the
    /// refresh goes on without it), or reading the running jobs (tried again a poll interval later).
    /// </summary>
    public void RefreshFailed(Guid? job)
    {
        lock (_gate)
        {
            if (job is { } id)
            {
                _refreshing = false;
                _faultedAt[id] = Stopwatch.GetTimestamp();
            }
            else
            {
                EndRefreshLocked();
            }
        }
    }

    /// <summary>A batch of the job has ended (committed or not): its partner has one fewer in flight, and a worker waiting for its turn looks again.</summary>
    public void BatchEnded(JobSweep sweep)
    {
        TaskCompletionSource ended;
        lock (_gate)
        {
            if (_inFlight.GetValueOrDefault(sweep.PartnerId) <= 1)
            {
                _inFlight.Remove(sweep.PartnerId);
            }
            else
            {
                _inFlight[sweep.PartnerId]--;
            }

            ended = _batchEnded;
            _batchEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        ended.TrySetResult();
    }

    /// <summary>A claim of the job came back short: none of its chunks is left to claim, so it is completed once its batches in flight are.</summary>
    public void Exhausted(JobSweep sweep)
    {
        lock (_gate)
        {
            if (_working.Remove(sweep))
            {
                _toComplete.Enqueue(sweep.JobId);
            }
        }
    }

    public void Completed(Guid job)
    {
        lock (_gate)
        {
            _completing.Remove(job);
        }
    }

    /// <summary>A batch or the completion of the job failed: it is left alone until a refresh a poll interval later; the others go on.</summary>
    public void Faulted(Guid job)
    {
        lock (_gate)
        {
            _working.RemoveAll(sweep => sweep.JobId == job);
            _completing.Remove(job);
            _faultedAt[job] = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>A job left to complete as the sweep ended; null when none is.</summary>
    public Guid? TakeCompletion()
    {
        lock (_gate)
        {
            return _toComplete.TryDequeue(out var job) ? job : null;
        }
    }

    private bool BeginRefreshLocked()
    {
        if (_refreshing || !(_refreshDue || wakes() != _wakesSeen || Stopwatch.GetElapsedTime(_refreshedAt) >= refreshEvery))
        {
            return false;
        }

        _refreshing = true;
        _wakesSeen = wakes();
        return true;
    }

    private void EndRefreshLocked()
    {
        _refreshing = false;
        _refreshDue = false;
        _refreshedAt = Stopwatch.GetTimestamp();
    }
}
