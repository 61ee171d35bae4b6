<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Message;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\StreamPublisher;

/** A long QoS 1 stream through loop(): nothing lost, duplicated or reordered. */
final class SubscriberThroughputTest extends MqttTestCase
{
    private const TOPICS = 4;
    private const PER_TOPIC = 25_000;

    public function testOneHundredThousandQos1MessagesArriveCompleteAndInOrderPerTopic(): void
    {
        $broker = Broker::start();
        $client = $this->client($this->options([], $broker));
        $deadline = microtime(true) + 10;
        while (!$client->status()['connected'] && microtime(true) < $deadline) {
            usleep(5_000);
        }
        $subscriber = new Subscriber([$client]);
        $base = $this->topic('stream');
        $subscriber->subscribe("$base/+", 1);

        // Independent publishers (StreamPublisher: other processes, without the extension), one per topic, all at once.
        $publishers = [];
        for ($t = 0; $t < self::TOPICS; $t++) {
            $publishers[] = StreamPublisher::start($broker, "$base/$t", array_map(fn ($i) => "$t:$i", range(1, self::PER_TOPIC)), 1, 100);
        }

        // Per topic, the number of the message expected next; every deviation is kept.
        $next = array_fill(0, self::TOPICS, 1);
        $deviations = [];
        $qos = [];
        $handled = $subscriber->loop(function (Message $message) use (&$next, &$deviations, &$qos, $base): void {
            $qos[$message->qos] = true;
            [$t, $i] = array_map('intval', explode(':', $message->payload)) + [1 => 0];
            if ($message->topic !== "$base/$t" || $i !== ($next[$t] ?? null)) {
                $deviations[] = sprintf('"%s" on %s while expecting %s', $message->payload, $message->topic, $next[$t] ?? '?');
            }
            $next[$t] = $i + 1;
        }, timeout: 60.0, limit: self::TOPICS * self::PER_TOPIC);

        foreach ($publishers as $publisher) {
            $publisher->wait();
        }
        $this->assertSame([], array_slice($deviations, 0, 20), sprintf('%d messages out of order, duplicated or after a gap', count($deviations)));
        if ($handled !== self::TOPICS * self::PER_TOPIC) {
            $this->fail(sprintf(
                "loop() ended after 60 s with %d of %d messages; next expected per topic: %s\nbroker log:\n%s",
                $handled,
                self::TOPICS * self::PER_TOPIC,
                json_encode($next),
                Failure::tail($broker->log(), 30)
            ));
        }
        $this->assertSame(array_fill(0, self::TOPICS, self::PER_TOPIC + 1), $next, 'every topic complete');
        $this->assertSame([1 => true], $qos, 'delivered with QoS 1');
        $this->assertNull($subscriber->next(0.2), 'nothing more than was published');
        $this->assertSame(0, $client->status()['reconnects']);
    }
}
