<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

/**
 * The slot of this worker process among the workers of its host: the lowest
 * number whose lock file nobody holds. A worker restarted after a crash gets
 * its slot back, and with it the persistent sessions (the MQTT client ids)
 * where its unacknowledged jobs wait. The operating system releases the lock
 * when the process dies, SIGKILL included.
 */
final class WorkerSlot
{
    private const MAX_SLOTS = 4096;

    /** @param resource $lock */
    private function __construct(public readonly string $name, private $lock)
    {
    }

    public static function claim(string $directory, string $group, string $workerName): self
    {
        if (!is_dir($directory) && !@mkdir($directory, 0777, true) && !is_dir($directory)) {
            throw new \RuntimeException("mqtt queue: cannot create the slot directory $directory");
        }
        for ($n = 0; $n < self::MAX_SLOTS; $n++) {
            $file = sprintf('%s/%s.%s-%d.lock', $directory, $group, $workerName, $n);
            $lock = @fopen($file, 'c');
            if ($lock === false) {
                throw new \RuntimeException("mqtt queue: cannot open the slot lock $file");
            }
            if (flock($lock, LOCK_EX | LOCK_NB)) {
                return new self("$workerName-$n", $lock);
            }
            fclose($lock);
        }
        throw new \RuntimeException(sprintf('mqtt queue: all %d worker slots in %s are taken', self::MAX_SLOTS, $directory));
    }

    /** The host name as a client id part. */
    public static function hostName(): string
    {
        return preg_replace('/[^A-Za-z0-9_-]+/', '_', (string) gethostname()) ?: 'host';
    }

    public function __destruct()
    {
        flock($this->lock, LOCK_UN);
        fclose($this->lock);
    }
}
