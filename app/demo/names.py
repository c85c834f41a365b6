"""Name material for the synthetic hospital: common surnames (roughly by frequency) and given-name
characters. Everything generated from it is deterministic for a given seed."""

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
    "莫孔向汤"
)
# Heavier weight for the most common surnames, as in a real staff list.
SURNAME_WEIGHTS = [max(1, 30 - i // 3) for i in range(len(SURNAMES))]

GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红文辉玲丹萍鹏飞宇浩然子涵欣怡梓轩晨阳"
    "思远佳琪雨桐博文嘉怡俊杰晓东海燕春梅立新永胜秋菊凤英玉兰振华德明淑珍宏伟亚楠婷婷文静雪梅国强建华"
    "晓燕丽娟海峰志强卫东少华慧敏瑞琳若曦诗涵一鸣子墨怡然书瑶天佑景行"
)
