<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use MqttBroadcast\Laravel\Config\Section;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * One `mqtt` entry of config/queue.php, read and checked once: an unknown key
 * or a bad value fails with the full config key in the message.
 */
final class MqttQueueConfig
{
    /** Where jobs wait for their time: republished by the workers, or held by the broker ($delayed/{seconds}/{topic}). */
    public const DELAY_REPUBLISH = 'republish';
    public const DELAY_BROKER = 'broker';

    private const KNOWN = ['connection', 'queue', 'topic_prefix', 'group', 'retry_after', 'block_for', 'delay', 'worker_name', 'slot_directory'];
    /** Keys Laravel itself reads from every queue connection. */
    private const LARAVEL = ['driver', 'name', 'after_commit'];

    private function __construct(
        /** config key of this entry, for messages: "queue.connections.mqtt" */
        public readonly string $path,
        /** connection of config/mqtt-broadcast.php */
        public readonly string $connection,
        public readonly string $queue,
        public readonly string $topicPrefix,
        /** the shared subscription group of the workers: $share/{group}/... */
        public readonly string $group,
        /** seconds within which the job of a worker that died runs again elsewhere */
        public readonly int $retryAfter,
        /** seconds pop() waits for a job on an empty queue */
        public readonly float $blockFor,
        public readonly string $delay,
        /** names this host's worker slots; null: the host name */
        public readonly ?string $workerName,
        /** where this host's workers lock their slots; null: storage/framework/mqtt-queue */
        public readonly ?string $slotDirectory,
    ) {
    }

    /** @param array<string, mixed> $config */
    public static function fromArray(array $config, string $path): self
    {
        $section = Section::of($config, $path, self::KNOWN, self::LARAVEL);
        $delay = $section->string('delay', self::DELAY_REPUBLISH);
        if (!in_array($delay, [self::DELAY_REPUBLISH, self::DELAY_BROKER], true)) {
            throw InvalidConfigException::invalidValue($section->key('delay'), 'must be "republish" or "broker"', $delay);
        }
        $prefix = $section->string('topic_prefix', 'queues/');
        if (preg_match('/[+#\x00]/', $prefix) || str_starts_with($prefix, '$')) {
            throw InvalidConfigException::invalidValue($section->key('topic_prefix'), 'must be a topic prefix without "+", "#" or NUL, not starting with "$"', $prefix);
        }
        $group = (string) $section->nonEmptyString('group', 'workers');
        if (preg_match('~[/+#\x00]~', $group)) {
            throw InvalidConfigException::invalidValue($section->key('group'), 'must be one topic level: no "/", "+", "#" or NUL', $group);
        }
        $queue = (string) $section->nonEmptyString('queue', 'default');
        if (!self::isQueueName($queue)) {
            throw InvalidConfigException::invalidValue($section->key('queue'), 'must be a topic without "+", "#" or NUL and without a level starting with "~"', $queue);
        }
        $workerName = $section->nonEmptyString('worker_name', null);
        if ($workerName !== null && !preg_match('/^[A-Za-z0-9_.-]+$/', $workerName)) {
            throw InvalidConfigException::invalidValue($section->key('worker_name'), 'must be letters, digits, "_", "." or "-" (it becomes part of MQTT client ids)', $workerName);
        }
        return new self(
            path: $path,
            connection: (string) $section->nonEmptyString('connection', 'default'),
            queue: $queue,
            topicPrefix: $prefix,
            group: $group,
            retryAfter: $section->int('retry_after', 90, 3, 86400 * 7),
            blockFor: $section->number('block_for', 0.0, false),
            delay: $delay,
            workerName: $workerName,
            slotDirectory: $section->nonEmptyString('slot_directory', null),
        );
    }

    /** A queue name becomes topic levels: it must be a valid topic without wildcards. */
    public static function isQueueName(string $queue): bool
    {
        return $queue !== '' && !preg_match('/[+#\x00]/', $queue) && !str_starts_with($queue, '~') && !str_contains($queue, '/~');
    }

    /** Seconds a worker slot may stay away before another worker serves its jobs. */
    public function adoptAfter(): float
    {
        return $this->retryAfter / 3;
    }
}
