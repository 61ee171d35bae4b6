<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Bus\Batchable;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;

/**
 * The queue driver tests' job: records each start, end and failure in
 * storage/queue-runs.jsonl, and does what $mode says in between:
 * "ok"; "sleep:S" (seconds); "kill:N" (SIGKILLs its own worker while
 * attempts <= N); "throw"; "release:S" (releases itself with a delay of S on
 * the first attempt).
 */
class QueueProbe implements ShouldQueue
{
    use Batchable;
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;

    public ?int $tries = null;
    public ?int $maxExceptions = null;
    /** @var int|list<int>|null */
    public $backoff = null;
    /** a Unix time; Laravel reads it when set */
    public ?int $retryUntil = null;
    /** @var list<string> what tags() returns */
    public array $tagList = [];

    public function __construct(public string $name, public string $mode = 'ok')
    {
    }

    /** @return list<string> Horizon-style tags, in the payload */
    public function tags(): array
    {
        return $this->tagList;
    }

    public function handle(): void
    {
        self::record($this->name, 'start', ['attempts' => $this->attempts(), 'queue' => $this->job?->getQueue()]);
        [$action, $argument] = array_pad(explode(':', $this->mode, 2), 2, '0');
        switch ($action) {
            case 'sleep':
                usleep((int) ((float) $argument * 1_000_000));
                break;
            case 'kill':
                if ($this->attempts() <= (int) $argument) {
                    posix_kill(getmypid(), SIGKILL);
                    sleep(10);
                }
                break;
            case 'throw':
                throw new \RuntimeException("{$this->name} threw on attempt {$this->attempts()}");
            case 'release':
                if ($this->attempts() === 1) {
                    $this->release((int) $argument);
                    self::record($this->name, 'released', ['delay' => (int) $argument]);
                    return;
                }
                break;
        }
        self::record($this->name, 'done', ['attempts' => $this->attempts()]);
    }

    public function failed(\Throwable $e): void
    {
        self::record($this->name, 'failed', ['exception' => get_class($e), 'message' => $e->getMessage()]);
    }

    /** @param array<string, mixed> $data */
    public static function record(string $name, string $phase, array $data = []): void
    {
        file_put_contents(storage_path('queue-runs.jsonl'), json_encode([
            'name' => $name,
            'phase' => $phase,
            'pid' => getmypid(),
            'at' => microtime(true),
        ] + $data) . "\n", FILE_APPEND | LOCK_EX);
    }
}
