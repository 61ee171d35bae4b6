<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

/**
 * The topics of one queue connection, below its topic_prefix:
 *
 *   {queue}                                 jobs ready to run (workers: $share/{group}/...)
 *   ~delayed/{queue}                        jobs waiting for their time (republish mode)
 *   ~consumers/{group}/{key}/{consumer}     retained: a consumer's state (online, offline; its will)
 *   ~reserved/{group}/{key}/{consumer}      retained: the job a consumer started last, with its attempts
 *
 * {key} is the queue name as one topic level. Queue names cannot have a level
 * starting with "~", so the two never meet.
 */
final class Topics
{
    public function __construct(private readonly string $prefix, private readonly string $group)
    {
    }

    public function ready(string $queue): string
    {
        return $this->prefix . $queue;
    }

    public function delayed(string $queue): string
    {
        return $this->prefix . '~delayed/' . $queue;
    }

    public function share(string $topic): string
    {
        return '$share/' . $this->group . '/' . $topic;
    }

    public function states(string $queue): string
    {
        return $this->prefix . '~consumers/' . $this->group . '/' . self::key($queue) . '/+';
    }

    public function state(string $queue, string $consumer): string
    {
        return $this->prefix . '~consumers/' . $this->group . '/' . self::key($queue) . '/' . $consumer;
    }

    public function reservation(string $queue, string $consumer): string
    {
        return $this->prefix . '~reserved/' . $this->group . '/' . self::key($queue) . '/' . $consumer;
    }

    /** The consumer a state topic names. */
    public static function consumerOf(string $stateTopic): string
    {
        return substr($stateTopic, strrpos($stateTopic, '/') + 1);
    }

    /** A queue name as one topic level and part of client ids: itself when plain, else a hash of it. */
    public static function key(string $queue): string
    {
        return preg_match('/^[A-Za-z0-9_-]{1,40}$/', $queue) ? $queue : 'q' . substr(sha1($queue), 0, 16);
    }
}
